//! The GraphQL documents this target sends and the shapes of their `data`.
//!
//! Each response type reads only the fields its document selects. Field
//! names follow the Admin API reference
//! (<https://shopify.dev/docs/api/admin-graphql/latest>).

use serde::Deserialize;

use crate::graphql::Operation;

/// Reads the shop's currency and the order metafield definition that makes
/// the Wamebo order id a custom id.
pub(crate) const SHOP_SETUP: Operation = Operation {
    name: "ShopSetup",
    document: r#"query ShopSetup($namespace: String!, $key: String!) {
  shop { currencyCode }
  metafieldDefinition(identifier: {ownerType: ORDER, namespace: $namespace, key: $key}) {
    id
    type { name }
  }
}"#,
};

/// Creates the order metafield definition of type `id`, whose values Shopify
/// keeps unique and can look orders up by
/// (<https://shopify.dev/docs/apps/build/custom-data/metafields/working-with-custom-ids>).
pub(crate) const ORDER_ID_DEFINITION_CREATE: Operation = Operation {
    name: "OrderIdDefinitionCreate",
    document: r#"mutation OrderIdDefinitionCreate($definition: MetafieldDefinitionInput!) {
  metafieldDefinitionCreate(definition: $definition) {
    createdDefinition { id }
    userErrors { field message code }
  }
}"#,
};

/// Finds product variants by SKU. Shopify's search matches loosely, so the
/// caller keeps only exact SKU matches.
pub(crate) const VARIANTS_BY_SKU: Operation = Operation {
    name: "VariantsBySku",
    document: r#"query VariantsBySku($query: String!) {
  productVariants(first: 10, query: $query) {
    nodes { id sku }
  }
}"#,
};

/// Finds the customer who owns a phone number. Shopify keeps customer phone
/// numbers unique, so there is at most one.
pub(crate) const CUSTOMER_BY_PHONE: Operation = Operation {
    name: "CustomerByPhone",
    document: r#"query CustomerByPhone($phone: String!) {
  customerByIdentifier(identifier: {phoneNumber: $phone}) { id }
}"#,
};

/// Finds an order by the Wamebo order id in its custom-id metafield.
pub(crate) const ORDER_BY_CUSTOM_ID: Operation = Operation {
    name: "OrderByCustomId",
    document: r#"query OrderByCustomId($namespace: String!, $key: String!, $value: String!) {
  orderByIdentifier(identifier: {customId: {namespace: $namespace, key: $key, value: $value}}) {
    id
    name
    totalPriceSet {
      shopMoney { amount currencyCode }
      presentmentMoney { amount currencyCode }
    }
  }
}"#,
};

/// Finds orders by tag, for shops without the custom-id definition.
pub(crate) const ORDERS_BY_TAG: Operation = Operation {
    name: "OrdersByTag",
    document: r#"query OrdersByTag($query: String!) {
  orders(first: 5, query: $query) {
    nodes {
      id
      name
      tags
      totalPriceSet {
        shopMoney { amount currencyCode }
        presentmentMoney { amount currencyCode }
      }
    }
  }
}"#,
};

/// Creates the order.
pub(crate) const ORDER_CREATE: Operation = Operation {
    name: "OrderCreate",
    document: r#"mutation OrderCreate($order: OrderCreateOrderInput!, $options: OrderCreateOptionsInput) {
  orderCreate(order: $order, options: $options) {
    order {
      id
      name
      totalPriceSet {
        shopMoney { amount currencyCode }
        presentmentMoney { amount currencyCode }
      }
    }
    userErrors { field message code }
  }
}"#,
};

/// `data` of [`SHOP_SETUP`].
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ShopSetupData {
    pub shop: Shop,
    pub metafield_definition: Option<MetafieldDefinition>,
}

/// The shop's settings this target needs.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Shop {
    pub currency_code: String,
}

/// A metafield definition and its type.
#[derive(Debug, Deserialize)]
pub(crate) struct MetafieldDefinition {
    #[serde(rename = "type")]
    pub definition_type: MetafieldType,
}

/// A metafield definition's type, such as `id`.
#[derive(Debug, Deserialize)]
pub(crate) struct MetafieldType {
    pub name: String,
}

/// `data` of [`ORDER_ID_DEFINITION_CREATE`].
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DefinitionCreateData {
    pub metafield_definition_create: Option<DefinitionCreatePayload>,
}

/// The payload of `metafieldDefinitionCreate`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DefinitionCreatePayload {
    pub created_definition: Option<Node>,
    #[serde(default)]
    pub user_errors: Vec<UserError>,
}

/// `data` of [`VARIANTS_BY_SKU`].
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VariantsData {
    pub product_variants: Connection<Variant>,
}

/// A product variant and its SKU.
#[derive(Debug, Deserialize)]
pub(crate) struct Variant {
    pub id: String,
    pub sku: Option<String>,
}

/// `data` of [`CUSTOMER_BY_PHONE`].
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CustomerData {
    pub customer_by_identifier: Option<Node>,
}

/// `data` of [`ORDER_BY_CUSTOM_ID`].
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OrderByIdData {
    pub order_by_identifier: Option<OrderNode>,
}

/// `data` of [`ORDERS_BY_TAG`].
#[derive(Debug, Deserialize)]
pub(crate) struct OrdersData {
    pub orders: Connection<OrderNode>,
}

/// `data` of [`ORDER_CREATE`].
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OrderCreateData {
    pub order_create: Option<OrderCreatePayload>,
}

/// The payload of `orderCreate`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OrderCreatePayload {
    pub order: Option<OrderNode>,
    #[serde(default)]
    pub user_errors: Vec<UserError>,
}

/// An order as this target reads it back.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OrderNode {
    pub id: String,
    pub name: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub total_price_set: Option<MoneyBag>,
}

/// An amount in the shop's and in the customer's currency.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MoneyBag {
    pub shop_money: Money,
    pub presentment_money: Option<Money>,
}

/// An amount as Shopify's `Decimal` scalar, a decimal string such as
/// `"250.0"`, with its currency.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Money {
    pub amount: String,
    pub currency_code: String,
}

/// An object of which only the id is read.
#[derive(Debug, Deserialize)]
pub(crate) struct Node {
    pub id: String,
}

/// The `nodes` of a connection.
#[derive(Debug, Deserialize)]
pub(crate) struct Connection<T> {
    pub nodes: Vec<T>,
}

/// A mutation's user error: Shopify rejected the input and changed nothing.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct UserError {
    #[serde(default)]
    pub field: Option<Vec<String>>,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub code: Option<String>,
}

impl UserError {
    /// Returns the field path joined with dots, such as
    /// `order.lineItems.0.variantId`.
    pub fn field_path(&self) -> String {
        self.field
            .as_ref()
            .map(|segments| segments.join("."))
            .unwrap_or_default()
    }
}
