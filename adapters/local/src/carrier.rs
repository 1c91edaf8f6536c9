//! `Carrier` as a simulator of two parcel carriers, with durable shipments and PDF labels.
//!
//! - **Northwind Express** (`northwind`, preferred): the United States, Canada and Mexico,
//!   parcels up to 30 kg; UPS-style tracking numbers, `1Z` and 16 letters and digits ending in
//!   UPS's check digit.
//! - **Contoso Parcel** (`contoso`, the fallback): everywhere, parcels up to 70 kg; DHL-style
//!   tracking numbers, `JJD` and 18 digits.
//!
//! Either answers `Unavailable` for a parcel it does not take (out of its area, too heavy) and
//! during a configured outage (`CARRIER_OUTAGE=northwind`), so the saga falls back to the next
//! carrier. The postal code `00000` is `Undeliverable` by every carrier. The service follows the
//! destination and weight: `express` for domestic parcels up to 1 kg, `ground` for heavier
//! domestic ones, `international` beyond the United States.
//!
//! A label is bought once per idempotency key: the shipment, label included, is stored in the
//! simulator's own SQLite file before it is returned, and a request repeating a key gets that
//! shipment back, even after a crash, even if the carrier it names has an outage since. The
//! tracking number is also derived from the carrier and the key, so it would come out the same
//! if computed again.

mod label;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use orderflow_domain::address::PostalAddress;
use orderflow_domain::catalog::Grams;
use orderflow_domain::order::OrderId;
use orderflow_domain::ports::{Carrier, CarrierError, Clock, Shipment, ShipmentRequest, SystemClock};
use orderflow_domain::pricing::shipping::ShippingZone;
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::sqlite::{Database, DbError, Durability, Schema};

/// The shipments' schema, in the simulator's own file (`DATA_DIR/carrier.db`).
const SCHEMA: Schema = Schema {
    name: "carrier",
    // "OFc1": Orderflow carrier.
    application_id: 0x4F46_6331,
    migrations: &[
        // 1: shipments, one per idempotency key, with their labels.
        r"
        CREATE TABLE shipments (
            seq             INTEGER PRIMARY KEY,
            idempotency_key TEXT NOT NULL UNIQUE,
            tracking_number TEXT NOT NULL UNIQUE,
            carrier         TEXT NOT NULL,
            service         TEXT NOT NULL,
            order_id        TEXT NOT NULL,
            weight_grams    INTEGER NOT NULL CHECK (weight_grams >= 0),
            destination     TEXT NOT NULL,
            label           BLOB NOT NULL,
            created_at      TEXT NOT NULL
        ) STRICT;
        CREATE INDEX shipments_by_order ON shipments (order_id, seq);
        ",
        // 2: voided labels, as a customer's cancellation leaves them.
        r"
        ALTER TABLE shipments ADD COLUMN voided_at TEXT;
        ",
    ],
};

/// How a carrier spells its tracking numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TrackingFormat {
    /// `1Z` + 15 letters and digits + UPS's check digit.
    Ups,
    /// `JJD` + 18 digits, as DHL eCommerce.
    Dhl,
}

/// One simulated carrier.
#[derive(Debug)]
struct CarrierSpec {
    /// What `carriers()` lists and requests name.
    code: &'static str,
    /// What the label shows.
    name: &'static str,
    /// Where it delivers.
    zones: &'static [ShippingZone],
    /// The heaviest parcel it takes.
    max_weight: Grams,
    tracking: TrackingFormat,
}

/// The carriers, preferred first.
static CARRIERS: [CarrierSpec; 2] = [
    CarrierSpec {
        code: "northwind",
        name: "Northwind Express",
        zones: &[ShippingZone::Domestic, ShippingZone::NorthAmerica],
        max_weight: Grams(30_000),
        tracking: TrackingFormat::Ups,
    },
    CarrierSpec {
        code: "contoso",
        name: "Contoso Parcel",
        zones: &[ShippingZone::Domestic, ShippingZone::NorthAmerica, ShippingZone::Europe, ShippingZone::International],
        max_weight: Grams(70_000),
        tracking: TrackingFormat::Dhl,
    },
];

/// The postal code no carrier delivers to: the simulator's way to test an undeliverable address.
const UNDELIVERABLE_POSTAL_CODE: &str = "00000";

fn spec(name: &str) -> Option<&'static CarrierSpec> {
    CARRIERS.iter().find(|c| c.code.eq_ignore_ascii_case(name) || c.name.eq_ignore_ascii_case(name))
}

/// The service level for a parcel: fast for small domestic parcels, by road for heavier ones.
fn service(zone: ShippingZone, weight: Grams) -> &'static str {
    match zone {
        ShippingZone::Domestic if weight <= Grams(1_000) => "express",
        ShippingZone::Domestic => "ground",
        ShippingZone::NorthAmerica | ShippingZone::Europe | ShippingZone::International => "international",
    }
}

/// The tracking number `carrier` gives the parcel bought under `key`: random-looking, but the
/// same every time for the same carrier and key.
fn tracking_number(carrier: &CarrierSpec, key: &str) -> String {
    const ALPHANUMERIC: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let digest = Sha256::new().chain_update(carrier.code).chain_update([0]).chain_update(key).finalize();
    match carrier.tracking {
        TrackingFormat::Ups => {
            let body: String = digest.iter().take(15).map(|b| char::from(ALPHANUMERIC[usize::from(*b) % 36])).collect();
            let check = ups_check_digit(&body);
            format!("1Z{body}{check}")
        }
        TrackingFormat::Dhl => {
            let digits: String = digest.iter().take(18).map(|b| char::from(b'0' + b % 10)).collect();
            format!("JJD{digits}")
        }
    }
}

/// UPS's check digit over the 15 characters after `1Z`: letters count as `(code - 63) mod 10`,
/// characters in even positions count double, and the digit brings the sum to a multiple of 10.
fn ups_check_digit(body: &str) -> u32 {
    let sum: u32 = body
        .bytes()
        .enumerate()
        .map(|(i, c)| {
            let value = if c.is_ascii_digit() { u32::from(c - b'0') } else { u32::from(c.saturating_sub(63)) % 10 };
            if i % 2 == 1 { 2 * value } else { value }
        })
        .sum();
    (10 - sum % 10) % 10
}

/// A shipment as `GET /_local/shipments` shows it (the label itself is in the blob store).
///
/// ```json
/// {"trackingNumber": "1Z8F3K2M9Q0W7E5R1T", "carrier": "northwind", "carrierName": "Northwind Express",
///  "service": "express", "orderId": "ord_01JD4S5Z8X3Q9V7W2N6M1K0TRB",
///  "idempotencyKey": "ord_01JD4S5Z8X3Q9V7W2N6M1K0TRB/ship", "weightGrams": 850,
///  "destination": {"name": "Ada Lovelace", "line1": "12 Market Street", "city": "San Francisco",
///                  "region": "CA", "postalCode": "94103", "country": "US"},
///  "labelBytes": 2143, "createdAt": "2026-03-01T12:00:00Z", "voided": false}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShipmentRecord {
    pub tracking_number: String,
    /// The carrier's code, as `Carrier::carriers` lists it.
    pub carrier: String,
    pub carrier_name: String,
    pub service: String,
    pub order_id: OrderId,
    /// The key the label was bought under; repeating it returns this shipment.
    pub idempotency_key: String,
    pub weight_grams: u64,
    pub destination: PostalAddress,
    /// The size of the label PDF.
    pub label_bytes: usize,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The label was voided: the parcel will never be carried.
    pub voided: bool,
}

/// No carrier by that name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("there is no carrier `{0}`; the simulated carriers are northwind and contoso")]
pub struct UnknownCarrier(pub String);

/// Two simulated carriers, their shipments recorded in their own SQLite database.
#[derive(Debug, Clone)]
pub struct CarrierSimulator {
    db: Database,
    /// The carrier that is down, answering `Unavailable` to every new parcel.
    outage: Option<&'static CarrierSpec>,
    /// Dates shipments and labels.
    clock: Arc<dyn Clock>,
}

fn transient(error: DbError) -> CarrierError {
    CarrierError::Transient(Box::new(error))
}

fn bad_column(index: usize, error: impl std::error::Error + Send + Sync + 'static) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(index, Type::Text, Box::new(error))
}

/// A shipment as stored: its record and its label.
#[derive(Debug)]
struct Stored {
    record: ShipmentRecord,
    label: Vec<u8>,
}

/// The columns `shipment_row` reads.
const SHIPMENT_COLUMNS: &str = "tracking_number, carrier, service, order_id, idempotency_key, weight_grams, \
                                destination, created_at, label, voided_at IS NOT NULL";

fn shipment_row(r: &Row<'_>) -> rusqlite::Result<Stored> {
    let label: Vec<u8> = r.get(8)?;
    Ok(Stored { record: record_row(r, label.len())?, label })
}

/// A shipment's record from a row of `SHIPMENT_COLUMNS`, whose column 8 (the label) the caller
/// read or measured.
fn record_row(r: &Row<'_>, label_bytes: usize) -> rusqlite::Result<ShipmentRecord> {
    let carrier: String = r.get(1)?;
    Ok(ShipmentRecord {
        tracking_number: r.get(0)?,
        carrier_name: spec(&carrier).map_or_else(|| carrier.clone(), |c| c.name.to_owned()),
        carrier,
        service: r.get(2)?,
        order_id: OrderId::parse(&r.get::<_, String>(3)?).map_err(|e| bad_column(3, e))?,
        idempotency_key: r.get(4)?,
        weight_grams: u64::try_from(r.get::<_, i64>(5)?).map_err(|e| bad_column(5, e))?,
        destination: serde_json::from_str(&r.get::<_, String>(6)?).map_err(|e| bad_column(6, e))?,
        label_bytes,
        created_at: OffsetDateTime::parse(&r.get::<_, String>(7)?, &Rfc3339).map_err(|e| bad_column(7, e))?,
        voided: r.get(9)?,
    })
}

fn shipment_by_key(conn: &Connection, key: &str) -> Result<Option<Stored>, DbError> {
    let sql = format!("SELECT {SHIPMENT_COLUMNS} FROM shipments WHERE idempotency_key = ?1");
    Ok(conn.prepare_cached(&sql)?.query_row([key], shipment_row).optional()?)
}

impl From<Stored> for Shipment {
    fn from(Stored { record, label }: Stored) -> Self {
        Self {
            carrier: record.carrier,
            service: record.service,
            tracking_number: record.tracking_number,
            destination: record.destination,
            label,
            voided: record.voided,
        }
    }
}

impl CarrierSimulator {
    /// Opens (creating if needed) the shipments database at `path`, such as `DATA_DIR/carrier.db`.
    pub fn open(path: impl AsRef<Path>, durability: Durability) -> Result<Self, DbError> {
        Ok(Self {
            db: Database::open_with_schema(path, durability, &SCHEMA)?,
            outage: None,
            clock: Arc::new(SystemClock::new()),
        })
    }

    /// Takes the carrier named `carrier` (its code or its name, in any case) down: it answers
    /// `Unavailable` to new parcels. The runtime sets it from `CARRIER_OUTAGE`.
    pub fn with_outage(mut self, carrier: &str) -> Result<Self, UnknownCarrier> {
        self.outage = Some(spec(carrier).ok_or_else(|| UnknownCarrier(carrier.to_owned()))?);
        Ok(self)
    }

    /// Uses `clock` to date shipments.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Every shipment, oldest first: the body of `GET /_local/shipments`.
    pub async fn shipments(&self) -> Result<Vec<ShipmentRecord>, DbError> {
        self.db
            .read(|conn| {
                let sql = format!("SELECT {SHIPMENT_COLUMNS} FROM shipments ORDER BY seq");
                let mut stmt = conn.prepare_cached(&sql)?;
                let rows = stmt.query_map([], |r| shipment_row(r).map(|stored| stored.record))?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .await
    }

    /// Up to `limit` shipments, newest first, each with its position; `before` (a position
    /// from an earlier page) continues after that shipment. Labels are not read, only their
    /// size: a page costs the same however many labels were sold.
    pub async fn recent_shipments(
        &self,
        limit: usize,
        before: Option<i64>,
    ) -> Result<Vec<(i64, ShipmentRecord)>, DbError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.db
            .read(move |conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT tracking_number, carrier, service, order_id, idempotency_key, weight_grams, destination,
                            created_at, length(label), voided_at IS NOT NULL, seq
                     FROM shipments WHERE ?1 IS NULL OR seq < ?1 ORDER BY seq DESC LIMIT ?2",
                )?;
                let rows = stmt.query_map(rusqlite::params![before, limit], |r| {
                    let label_bytes = usize::try_from(r.get::<_, i64>(8)?).map_err(|e| bad_column(8, e))?;
                    Ok((r.get::<_, i64>(10)?, record_row(r, label_bytes)?))
                })?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .await
    }

    /// Why `carrier` cannot take this parcel, if it cannot.
    fn refusal(&self, carrier: &CarrierSpec, request: &ShipmentRequest) -> Option<CarrierError> {
        let destination = &request.destination;
        let unavailable = |why: String| {
            tracing::info!(carrier = carrier.code, why, "the carrier cannot take the parcel");
            Some(CarrierError::Unavailable(carrier.code.to_owned()))
        };
        if self.outage.is_some_and(|down| down.code == carrier.code) {
            return unavailable("an outage".to_owned());
        }
        let postal_code: String =
            destination.postal_code.as_ref().chars().filter(char::is_ascii_alphanumeric).collect();
        if postal_code == UNDELIVERABLE_POSTAL_CODE {
            return Some(CarrierError::Undeliverable(format!(
                "{} {} has no postal code {}",
                carrier.name, destination.country, destination.postal_code
            )));
        }
        if !carrier.zones.contains(&ShippingZone::of(destination.country)) {
            return unavailable(format!("no service to {}", destination.country));
        }
        if request.weight > carrier.max_weight {
            return unavailable(format!("{} g is over its limit of {} g", request.weight.0, carrier.max_weight.0));
        }
        None
    }
}

#[async_trait]
impl Carrier for CarrierSimulator {
    fn carriers(&self) -> Vec<String> {
        CARRIERS.iter().map(|c| c.code.to_owned()).collect()
    }

    #[tracing::instrument(skip_all, fields(order_id = %request.order, carrier = %request.carrier))]
    async fn ship(&self, request: &ShipmentRequest) -> Result<Shipment, CarrierError> {
        let Some(carrier) = spec(&request.carrier) else {
            tracing::warn!("asked for a carrier that does not exist");
            return Err(CarrierError::Unavailable(request.carrier.clone()));
        };
        let key = request.idempotency_key.clone();
        if let Some(bought) = self.db.read(move |conn| shipment_by_key(conn, &key)).await.map_err(transient)? {
            if bought.record.carrier != carrier.code {
                tracing::warn!(bought_from = %bought.record.carrier, "the key already bought a label from another carrier");
            }
            return Ok(bought.into());
        }
        if let Some(refusal) = self.refusal(carrier, request) {
            return Err(refusal);
        }

        let now = self.clock.now();
        let tracking_number = tracking_number(carrier, &request.idempotency_key);
        let service = service(ShippingZone::of(request.destination.country), request.weight);
        let label = label::render(&label::Label {
            carrier: carrier.name,
            service,
            tracking_number: &tracking_number,
            order: &request.order,
            destination: &request.destination,
            weight: request.weight,
            date: now.date(),
        });
        let destination = serde_json::to_string(&request.destination).map_err(|e| transient(e.into()))?;
        let (key, order, weight) = (
            request.idempotency_key.clone(),
            request.order.to_string(),
            i64::try_from(request.weight.0).unwrap_or(i64::MAX),
        );
        let created_at = now.format(&Rfc3339).unwrap_or_default();
        let stored = self
            .db
            .write(move |conn| {
                // A concurrent request with the same key may have won: its shipment stands.
                conn.prepare_cached(
                    "INSERT INTO shipments (idempotency_key, tracking_number, carrier, service, order_id, weight_grams,
                                            destination, label, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                     ON CONFLICT (idempotency_key) DO NOTHING",
                )?
                .execute(params![
                    key,
                    tracking_number,
                    carrier.code,
                    service,
                    order,
                    weight,
                    destination,
                    label,
                    created_at
                ])?;
                shipment_by_key(conn, &key)?.ok_or(DbError::Sqlite(rusqlite::Error::QueryReturnedNoRows))
            })
            .await
            .map_err(transient)?;
        tracing::info!(tracking_number = %stored.record.tracking_number, service = %stored.record.service, "label bought");
        Ok(stored.into())
    }

    async fn find(&self, idempotency_key: &str) -> Result<Option<Shipment>, CarrierError> {
        let key = idempotency_key.to_owned();
        let stored = self.db.read(move |conn| shipment_by_key(conn, &key)).await.map_err(transient)?;
        Ok(stored.map(Shipment::from))
    }

    #[tracing::instrument(skip_all, fields(idempotency_key))]
    async fn void(&self, idempotency_key: &str) -> Result<(), CarrierError> {
        let (key, now) = (idempotency_key.to_owned(), self.clock.now().format(&Rfc3339).unwrap_or_default());
        let voided = self
            .db
            .write(move |conn| {
                Ok(conn
                    .prepare_cached(
                        "UPDATE shipments SET voided_at = ?2 WHERE idempotency_key = ?1 AND voided_at IS NULL",
                    )?
                    .execute(params![key, now])?)
            })
            .await
            .map_err(transient)?;
        if voided > 0 {
            tracing::info!("label voided");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
