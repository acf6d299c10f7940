//! The shop settings this target reads once per process: the shop's
//! currency, and whether orders can carry the Wamebo order id as a custom
//! id.

use std::time::Instant;

use serde_json::json;
use wamebo_core::TargetId;

use crate::config::Settings;
use crate::graphql::{Failure, GraphqlClient};
use crate::operations::{
    DefinitionCreateData, ShopSetupData, ORDER_ID_DEFINITION_CREATE, SHOP_SETUP,
};

/// The metafield type whose values Shopify keeps unique and looks resources
/// up by.
const CUSTOM_ID_TYPE: &str = "id";

/// The shop's settings that this target depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ShopFacts {
    /// The shop's currency, such as `USD`.
    pub currency: String,
    /// True when an order metafield definition of type `id` exists under the
    /// configured namespace and key, so orders carry their Wamebo order id
    /// as a unique custom id and `orderByIdentifier` finds them.
    pub custom_id: bool,
}

/// Reads the shop's currency and makes sure the custom-id definition
/// exists, creating it when the shop has none.
///
/// When the definition cannot be made (another type already uses the key,
/// or the token may not create definitions), orders fall back to the tag
/// lookup and a warning names the fix.
pub(crate) async fn load_shop_facts(
    client: &GraphqlClient,
    settings: &Settings,
    target: &TargetId,
    deadline: Instant,
) -> Result<ShopFacts, Failure> {
    let setup = read_setup(client, settings, deadline).await?;
    let custom_id = match &setup.metafield_definition {
        Some(definition) => has_id_type(settings, target, &definition.definition_type.name),
        None => create_definition(client, settings, target, deadline).await?,
    };
    Ok(ShopFacts {
        currency: setup.shop.currency_code,
        custom_id,
    })
}

async fn read_setup(
    client: &GraphqlClient,
    settings: &Settings,
    deadline: Instant,
) -> Result<ShopSetupData, Failure> {
    client
        .execute(
            SHOP_SETUP,
            json!({
                "namespace": settings.metafield_namespace,
                "key": settings.metafield_key,
            }),
            deadline,
        )
        .await
}

fn has_id_type(settings: &Settings, target: &TargetId, type_name: &str) -> bool {
    if type_name == CUSTOM_ID_TYPE {
        return true;
    }
    tracing::warn!(
        target_id = %target,
        namespace = %settings.metafield_namespace,
        key = %settings.metafield_key,
        metafield_type = type_name,
        "order metafield definition has a type other than `id`, so orders are looked up by tag: set metafield_key to an unused key and restart"
    );
    false
}

async fn create_definition(
    client: &GraphqlClient,
    settings: &Settings,
    target: &TargetId,
    deadline: Instant,
) -> Result<bool, Failure> {
    let variables = json!({
        "definition": {
            "name": "Wamebo order id",
            "namespace": settings.metafield_namespace,
            "key": settings.metafield_key,
            "description": "The Wamebo order this order was created from, as {store}-{order_id}. Set by wamebo-bridge.",
            "ownerType": "ORDER",
            "type": CUSTOM_ID_TYPE,
        }
    });
    let result: Result<DefinitionCreateData, Failure> = client
        .execute(ORDER_ID_DEFINITION_CREATE, variables, deadline)
        .await;

    let payload = match result {
        Ok(data) => data.metafield_definition_create,
        Err(Failure::Unauthorized { detail } | Failure::Rejected { detail }) => {
            tracing::warn!(
                target_id = %target,
                error = %detail,
                "cannot create the order metafield definition, so orders are looked up by tag: grant the app write_orders or create an `id` definition for orders, then restart"
            );
            return Ok(false);
        }
        Err(other) => return Err(other),
    };
    let Some(payload) = payload else {
        return Err(Failure::InvalidResponse {
            detail: "metafieldDefinitionCreate returned no payload".to_owned(),
        });
    };
    if payload.created_definition.is_some() {
        tracing::info!(
            target_id = %target,
            namespace = %settings.metafield_namespace,
            key = %settings.metafield_key,
            "created the order metafield definition that holds the Wamebo order id"
        );
        return Ok(true);
    }

    // Another replica may have created it a moment ago (`TAKEN`): read it
    // again rather than guess.
    if payload
        .user_errors
        .iter()
        .any(|error| error.code.as_deref() == Some("TAKEN"))
    {
        let setup = read_setup(client, settings, deadline).await?;
        if let Some(definition) = setup.metafield_definition {
            return Ok(has_id_type(
                settings,
                target,
                &definition.definition_type.name,
            ));
        }
    }
    let errors: Vec<String> = payload
        .user_errors
        .iter()
        .map(|error| {
            format!(
                "{} at {}: {}",
                error.code.as_deref().unwrap_or("NO_CODE"),
                error.field_path(),
                error.message
            )
        })
        .collect();
    tracing::warn!(
        target_id = %target,
        errors = %crate::graphql::sanitize(&errors.join("; ")),
        "Shopify rejected the order metafield definition, so orders are looked up by tag: fix the cause and restart"
    );
    Ok(false)
}
