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
//! A shipment is opened once per idempotency key (opening again names the same `shp_…`), and
//! carries at most one label: the label is stored in the simulator's own SQLite file before it
//! is returned, and buying again on the shipment gets that label back, even after a crash, even
//! if the carrier named has an outage since. The tracking number is also derived from the
//! carrier and the key, so it would come out the same if computed again.

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
        // 3: shipments are opened, and named, before a label is bought on them. A label bought
        // before then is on a shipment named by its key.
        r"
        CREATE TABLE opened (
            reference       TEXT PRIMARY KEY,
            idempotency_key TEXT NOT NULL UNIQUE,
            order_id        TEXT NOT NULL,
            weight_grams    INTEGER NOT NULL CHECK (weight_grams >= 0),
            destination     TEXT NOT NULL,
            created_at      TEXT NOT NULL
        ) STRICT;
        INSERT INTO opened (reference, idempotency_key, order_id, weight_grams, destination, created_at)
            SELECT idempotency_key, idempotency_key, order_id, weight_grams, destination, created_at FROM shipments;
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
///  "reference": "shp_5c1f0e9a2b7d4c3e8f6a1b0d",
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
    /// The shipment the label was bought on.
    pub reference: String,
    /// The key the shipment was opened under.
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

/// Why no carrier delivers to `destination`, if none does.
fn undeliverable(checked_by: &str, destination: &PostalAddress) -> Option<CarrierError> {
    let postal_code: String = destination.postal_code.as_ref().chars().filter(char::is_ascii_alphanumeric).collect();
    (postal_code == UNDELIVERABLE_POSTAL_CODE).then(|| {
        CarrierError::Undeliverable(format!(
            "{checked_by}: {} has no postal code {}",
            destination.country, destination.postal_code
        ))
    })
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
const SHIPMENT_COLUMNS: &str = "s.tracking_number, s.carrier, s.service, s.order_id, s.idempotency_key, \
                                s.weight_grams, s.destination, s.created_at, s.label, s.voided_at IS NOT NULL, \
                                o.reference";

/// Shipments with the reference of the shipment each label was bought on.
const SHIPMENTS: &str = "shipments s JOIN opened o ON o.idempotency_key = s.idempotency_key";

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
        reference: r.get(10)?,
    })
}

fn shipment_by_key(conn: &Connection, key: &str) -> Result<Option<Stored>, DbError> {
    let sql = format!("SELECT {SHIPMENT_COLUMNS} FROM {SHIPMENTS} WHERE s.idempotency_key = ?1");
    Ok(conn.prepare_cached(&sql)?.query_row([key], shipment_row).optional()?)
}

/// A shipment opened for a parcel, with or without a label.
#[derive(Debug, Clone)]
struct Opened {
    key: String,
    order: OrderId,
    weight: Grams,
    destination: PostalAddress,
}

fn opened(conn: &Connection, reference: &str) -> Result<Option<Opened>, DbError> {
    let row = conn
        .prepare_cached("SELECT idempotency_key, order_id, weight_grams, destination FROM opened WHERE reference = ?1")?
        .query_row([reference], |r| {
            Ok(Opened {
                key: r.get(0)?,
                order: OrderId::parse(&r.get::<_, String>(1)?).map_err(|e| bad_column(1, e))?,
                weight: Grams(u64::try_from(r.get::<_, i64>(2)?).map_err(|e| bad_column(2, e))?),
                destination: serde_json::from_str(&r.get::<_, String>(3)?).map_err(|e| bad_column(3, e))?,
            })
        })
        .optional()?;
    Ok(row)
}

/// The reference of the shipment opened under `key`: `shp_` and 24 hex digits, the same for the
/// same key.
fn shipment_reference(key: &str) -> String {
    let digest = Sha256::new().chain_update(b"shipment\0").chain_update(key).finalize();
    format!("shp_{}", hex::encode(&digest[..12]))
}

fn unknown_shipment(reference: &str) -> CarrierError {
    CarrierError::Rejected(format!("there is no shipment {reference}").into())
}

impl From<Stored> for Shipment {
    fn from(Stored { record, label }: Stored) -> Self {
        Self {
            carrier: record.carrier,
            service: record.service,
            tracking_number: record.tracking_number,
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
                let sql = format!("SELECT {SHIPMENT_COLUMNS} FROM {SHIPMENTS} ORDER BY s.seq");
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
                    "SELECT s.tracking_number, s.carrier, s.service, s.order_id, s.idempotency_key, s.weight_grams,
                            s.destination, s.created_at, length(s.label), s.voided_at IS NOT NULL, o.reference, s.seq
                     FROM shipments s JOIN opened o ON o.idempotency_key = s.idempotency_key
                     WHERE ?1 IS NULL OR s.seq < ?1 ORDER BY s.seq DESC LIMIT ?2",
                )?;
                let rows = stmt.query_map(rusqlite::params![before, limit], |r| {
                    let label_bytes = usize::try_from(r.get::<_, i64>(8)?).map_err(|e| bad_column(8, e))?;
                    Ok((r.get::<_, i64>(11)?, record_row(r, label_bytes)?))
                })?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .await
    }

    /// Why `carrier` cannot take this parcel, if it cannot.
    fn refusal(&self, carrier: &CarrierSpec, parcel: &Opened) -> Option<CarrierError> {
        let destination = &parcel.destination;
        let unavailable = |why: String| {
            tracing::info!(carrier = carrier.code, why, "the carrier cannot take the parcel");
            Some(CarrierError::Unavailable(carrier.code.to_owned()))
        };
        if self.outage.is_some_and(|down| down.code == carrier.code) {
            return unavailable("an outage".to_owned());
        }
        if let Some(undeliverable) = undeliverable(carrier.name, destination) {
            return Some(undeliverable);
        }
        if !carrier.zones.contains(&ShippingZone::of(destination.country)) {
            return unavailable(format!("no service to {}", destination.country));
        }
        if parcel.weight > carrier.max_weight {
            return unavailable(format!("{} g is over its limit of {} g", parcel.weight.0, carrier.max_weight.0));
        }
        None
    }
}

#[async_trait]
impl Carrier for CarrierSimulator {
    fn carriers(&self) -> Vec<String> {
        CARRIERS.iter().map(|c| c.code.to_owned()).collect()
    }

    #[tracing::instrument(skip_all, fields(order_id = %request.order))]
    async fn open(&self, request: &ShipmentRequest) -> Result<String, CarrierError> {
        if let Some(undeliverable) = undeliverable("address check", &request.destination) {
            return Err(undeliverable);
        }
        let reference = shipment_reference(&request.idempotency_key);
        let destination = serde_json::to_string(&request.destination).map_err(|e| transient(e.into()))?;
        let (key, order, weight) = (
            request.idempotency_key.clone(),
            request.order.to_string(),
            i64::try_from(request.weight.0).unwrap_or(i64::MAX),
        );
        let created_at = self.clock.now().format(&Rfc3339).unwrap_or_default();
        self.db
            .write(move |conn| {
                conn.prepare_cached(
                    "INSERT INTO opened (reference, idempotency_key, order_id, weight_grams, destination, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (idempotency_key) DO NOTHING",
                )?
                .execute(params![reference, key, order, weight, destination, created_at])?;
                // A shipment opened under the key before (a label bought before shipments were
                // opened first is on one named by its key) is the one to name.
                let reference: String = conn
                    .prepare_cached("SELECT reference FROM opened WHERE idempotency_key = ?1")?
                    .query_row([&key], |r| r.get(0))?;
                Ok(reference)
            })
            .await
            .map_err(transient)
    }

    #[tracing::instrument(skip_all, fields(%reference, %carrier))]
    async fn ship(&self, reference: &str, carrier: &str) -> Result<Shipment, CarrierError> {
        let Some(spec) = spec(carrier) else {
            tracing::warn!("asked for a carrier that does not exist");
            return Err(CarrierError::Unavailable(carrier.to_owned()));
        };
        let owned = reference.to_owned();
        let (parcel, bought) = self
            .db
            .read(move |conn| {
                let Some(parcel) = opened(conn, &owned)? else { return Ok(None) };
                let bought = shipment_by_key(conn, &parcel.key)?;
                Ok(Some((parcel, bought)))
            })
            .await
            .map_err(transient)?
            .ok_or_else(|| unknown_shipment(reference))?;
        if let Some(bought) = bought {
            if bought.record.carrier != spec.code {
                tracing::warn!(bought_from = %bought.record.carrier, "the shipment has a label from another carrier");
            }
            return Ok(bought.into());
        }
        if let Some(refusal) = self.refusal(spec, &parcel) {
            return Err(refusal);
        }

        let now = self.clock.now();
        let tracking_number = tracking_number(spec, &parcel.key);
        let service = service(ShippingZone::of(parcel.destination.country), parcel.weight);
        let label = label::render(&label::Label {
            carrier: spec.name,
            service,
            tracking_number: &tracking_number,
            order: &parcel.order,
            destination: &parcel.destination,
            weight: parcel.weight,
            date: now.date(),
        });
        let destination = serde_json::to_string(&parcel.destination).map_err(|e| transient(e.into()))?;
        let (key, order, weight) =
            (parcel.key.clone(), parcel.order.to_string(), i64::try_from(parcel.weight.0).unwrap_or(i64::MAX));
        let created_at = now.format(&Rfc3339).unwrap_or_default();
        let stored = self
            .db
            .write(move |conn| {
                // A concurrent purchase on the same shipment may have won: its label stands.
                conn.prepare_cached(
                    "INSERT INTO shipments (idempotency_key, tracking_number, carrier, service, order_id, weight_grams,
                                            destination, label, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                     ON CONFLICT (idempotency_key) DO NOTHING",
                )?
                .execute(params![
                    key,
                    tracking_number,
                    spec.code,
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

    async fn find(&self, reference: &str) -> Result<Option<Shipment>, CarrierError> {
        let owned = reference.to_owned();
        let found = self
            .db
            .read(move |conn| match opened(conn, &owned)? {
                Some(parcel) => Ok(Some(shipment_by_key(conn, &parcel.key)?)),
                None => Ok(None),
            })
            .await
            .map_err(transient)?
            .ok_or_else(|| unknown_shipment(reference))?;
        Ok(found.map(Shipment::from))
    }

    #[tracing::instrument(skip_all, fields(%reference))]
    async fn void(&self, reference: &str) -> Result<(), CarrierError> {
        let (owned, now) = (reference.to_owned(), self.clock.now().format(&Rfc3339).unwrap_or_default());
        let voided = self
            .db
            .write(move |conn| {
                let Some(parcel) = opened(conn, &owned)? else { return Ok(None) };
                Ok(Some(
                    conn.prepare_cached(
                        "UPDATE shipments SET voided_at = ?2 WHERE idempotency_key = ?1 AND voided_at IS NULL",
                    )?
                    .execute(params![parcel.key, now])?,
                ))
            })
            .await
            .map_err(transient)?
            .ok_or_else(|| unknown_shipment(reference))?;
        if voided > 0 {
            tracing::info!("label voided");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
