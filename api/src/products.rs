//! `/api/v0/products`: the catalog with available stock.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use orderflow_domain::catalog::{Product, Sku};
use orderflow_domain::ports::{InventoryError, StockLevel};
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::extract::PathParam;
use crate::problem::{ApiError, Problem};

/// A product of the catalog. Prices are integer minor units of `currency`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductView {
    #[schema(example = "MUG-CLASSIC-WHT")]
    pub sku: String,
    pub name: String,
    pub description: String,
    #[schema(example = 1400)]
    pub unit_price: i64,
    #[schema(example = "USD")]
    pub currency: String,
    pub weight_grams: u64,
    pub category: String,
    /// Units that can be ordered now (on hand less reserved).
    pub available: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProductList {
    pub products: Vec<ProductView>,
}

fn view(product: &Product, level: Option<StockLevel>) -> ProductView {
    ProductView {
        sku: product.sku.to_string(),
        name: product.name.clone(),
        description: product.description.clone(),
        unit_price: product.unit_price.minor(),
        currency: product.unit_price.currency().code().to_owned(),
        weight_grams: product.weight.0,
        category: product.category.clone(),
        available: level.map_or(0, StockLevel::available),
    }
}

fn inventory_error(error: InventoryError) -> ApiError {
    ApiError::Unavailable(Box::new(error))
}

/// List the catalog with the stock available now.
#[utoipa::path(get, path = "/api/v0/products", tag = "products", responses((status = 200, description = "Every product with its available stock", body = ProductList)))]
pub async fn list_products(State(state): State<AppState>) -> Result<Json<ProductList>, ApiError> {
    let levels: HashMap<Sku, StockLevel> =
        state.inventory.levels().await.map_err(inventory_error)?.into_iter().collect();
    let products = state.catalog.products().map(|p| view(p, levels.get(&p.sku).copied())).collect();
    Ok(Json(ProductList { products }))
}

/// Get one product with the stock available now.
#[utoipa::path(
    get,
    path = "/api/v0/products/{sku}",
    tag = "products",
    params(("sku" = String, Path, description = "The SKU")),
    responses(
        (status = 200, description = "The product with its available stock", body = ProductView),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_product(
    State(state): State<AppState>,
    PathParam(sku): PathParam,
) -> Result<Json<ProductView>, ApiError> {
    let sku = Sku::parse(&sku).map_err(|_| ApiError::NotFound("product"))?;
    let product = state.catalog.product(&sku).ok_or(ApiError::NotFound("product"))?;
    let level = state.inventory.level(&sku).await.map_err(inventory_error)?;
    Ok(Json(view(product, level)))
}
