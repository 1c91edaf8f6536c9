//! Where an order ships: ISO 3166-1 countries, their regions and postal codes.

use serde::{Deserialize, Serialize};

use crate::Invalid;
use crate::customer::{PersonName, parse_text_line};

/// Every officially assigned ISO 3166-1 alpha-2 code.
const ISO_3166_1_ALPHA_2: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL \
BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ \
EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR \
HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU \
LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU \
NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO \
SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU \
WF WS YE YT ZA ZM ZW";

/// US states, the District of Columbia, inhabited territories and the military "states".
const US_REGIONS: &str = "AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV \
NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC AS GU MP PR VI AA AE AP";
const CA_REGIONS: &str = "AB BC MB NB NL NS NT NU ON PE QC SK YT";
const AU_REGIONS: &str = "ACT NSW NT QLD SA TAS VIC WA";

/// Whether `list`, two-letter codes separated by single spaces, holds `code`. Runs on every
/// order, so it compares bytes in place rather than splitting the list.
pub(crate) fn lists_code(list: &str, code: [u8; 2]) -> bool {
    list.as_bytes().chunks(3).any(|entry| entry[..2] == code)
}

/// An ISO 3166-1 alpha-2 country code, upper case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    pub const US: Self = Self(*b"US");

    /// Accepts the code in either case (`us`, `US`).
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let upper = raw.trim().to_ascii_uppercase();
        let bytes: [u8; 2] = upper
            .as_bytes()
            .try_into()
            .map_err(|_| Invalid::new("must be an ISO 3166-1 alpha-2 country code such as `US`"))?;
        if !bytes.iter().all(u8::is_ascii_uppercase) || !lists_code(ISO_3166_1_ALPHA_2, bytes) {
            return Err(Invalid::new(format!("`{}` is not an ISO 3166-1 alpha-2 country code", raw.trim())));
        }
        Ok(Self(bytes))
    }

    /// The code's two letters.
    pub fn bytes(self) -> [u8; 2] {
        self.0
    }

    pub fn as_str(&self) -> &str {
        // Only ever built from two ASCII upper-case letters.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }

    /// The subdivision codes a shipping address in this country must name, if it must.
    fn required_regions(self) -> Option<&'static str> {
        match &self.0 {
            b"US" => Some(US_REGIONS),
            b"CA" => Some(CA_REGIONS),
            b"AU" => Some(AU_REGIONS),
            _ => None,
        }
    }

    /// Compact shapes (spaces and hyphens removed; `9` a digit, `A` a letter, `X` either) that a
    /// postal code of this country takes, where we know them.
    fn postal_code_shapes(self) -> Option<&'static [&'static str]> {
        Some(match &self.0 {
            b"US" => &["99999", "999999999"],
            b"CA" => &["A9A9A9"],
            b"GB" | b"GG" | b"JE" | b"IM" => &["A99AA", "A999AA", "AA99AA", "AA999AA", "A9A9AA", "AA9A9AA"],
            b"DE" | b"FR" | b"ES" | b"IT" | b"FI" | b"MX" | b"MY" | b"PL" | b"HR" | b"EE" | b"LT" | b"UA" | b"SE"
            | b"CZ" | b"SK" | b"GR" => &["99999"],
            b"AU" | b"AT" | b"BE" | b"CH" | b"DK" | b"NO" | b"NZ" | b"HU" | b"LU" | b"SI" | b"BG" | b"ZA" | b"PH" => {
                &["9999"]
            }
            b"NL" => &["9999AA"],
            b"PT" | b"JP" => &["9999999"],
            b"BR" => &["99999999"],
            b"IN" | b"CN" | b"SG" | b"RU" => &["999999"],
            b"IE" => &["AXXXXXX"],
            _ => return None,
        })
    }
}

impl TryFrom<String> for CountryCode {
    type Error = Invalid;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<CountryCode> for String {
    fn from(code: CountryCode) -> Self {
        code.as_str().to_owned()
    }
}

impl std::fmt::Display for CountryCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A first-level subdivision of a country (a US state, a Canadian province), as the country's
/// postal service spells it. For countries whose addresses need one, it is one of a known list.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Region(String);

impl Region {
    /// Parses a region without knowing its country; `PostalAddress::parse` checks it against the
    /// country.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        parse_text_line(raw, 100).map(Self)
    }
}
string_newtype_conversions!(Region);

/// A postal code, upper case with runs of whitespace collapsed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PostalCode(String);

impl PostalCode {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let normalized = raw.split_whitespace().collect::<Vec<_>>().join(" ").to_ascii_uppercase();
        let compact = compact(&normalized);
        if !(2..=10).contains(&compact.len()) {
            return Err(Invalid::new("must be 2 to 10 letters and digits"));
        }
        if !normalized.bytes().all(|b| b.is_ascii_alphanumeric() || b == b' ' || b == b'-') {
            return Err(Invalid::new("may contain only letters, digits, spaces and `-`"));
        }
        Ok(Self(normalized))
    }
}
string_newtype_conversions!(PostalCode);

fn compact(postal_code: &str) -> String {
    postal_code.chars().filter(char::is_ascii_alphanumeric).collect()
}

fn matches_shape(compact: &str, shape: &str) -> bool {
    compact.len() == shape.len()
        && compact.bytes().zip(shape.bytes()).all(|(c, s)| match s {
            b'9' => c.is_ascii_digit(),
            b'A' => c.is_ascii_alphabetic(),
            _ => c.is_ascii_alphanumeric(),
        })
}

/// A shipping address that a carrier can read: a country, the region where that country's
/// addresses have one, and a postal code in that country's format where we know it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostalAddress {
    pub name: PersonName,
    pub line1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    pub city: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<Region>,
    pub postal_code: PostalCode,
    pub country: CountryCode,
}

/// The raw fields of an address, before parsing.
#[derive(Debug, Clone, Default)]
pub struct AddressFields<'a> {
    pub name: &'a str,
    pub line1: &'a str,
    pub line2: Option<&'a str>,
    pub city: &'a str,
    pub region: Option<&'a str>,
    pub postal_code: &'a str,
    pub country: &'a str,
}

/// Which field of an address is wrong, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressFieldError {
    /// The field's name as the API spells it (`postalCode`).
    pub field: &'static str,
    pub problem: Invalid,
}

impl PostalAddress {
    /// Parses every field and reports every field that is wrong, not only the first.
    pub fn parse(fields: &AddressFields<'_>) -> Result<Self, Vec<AddressFieldError>> {
        let mut errors = FieldErrors::default();
        let name = errors.check("name", PersonName::parse(fields.name));
        let line1 = errors.check("line1", parse_text_line(fields.line1, 200));
        let line2 = match fields.line2.map(str::trim) {
            None | Some("") => Some(None),
            Some(line) => errors.check("line2", parse_text_line(line, 200)).map(Some),
        };
        let city = errors.check("city", parse_text_line(fields.city, 100));
        let country = errors.check("country", CountryCode::parse(fields.country));
        let postal_code = errors.check("postalCode", PostalCode::parse(fields.postal_code));
        let region = match fields.region.map(str::trim) {
            None | Some("") => Some(None),
            Some(region) => errors.check("region", Region::parse(region)).map(Some),
        };

        if let (Some(country), Some(region)) = (country, &region)
            && let Some(known) = country.required_regions()
        {
            match region {
                None => errors.add("region", format!("is required for addresses in {country}")),
                Some(region) if !known.split(' ').any(|r| r.eq_ignore_ascii_case(region.as_ref())) => {
                    errors.add("region", format!("`{region}` is not a region of {country}; expected one of {known}"));
                }
                Some(_) => {}
            }
        }
        if let (Some(country), Some(postal_code)) = (country, &postal_code)
            && let Some(shapes) = country.postal_code_shapes()
            && !shapes.iter().any(|shape| matches_shape(&compact(postal_code.as_ref()), shape))
        {
            errors.add("postalCode", format!("`{postal_code}` is not a postal code of {country}"));
        }

        match (name, line1, line2, city, region, postal_code, country) {
            (Some(name), Some(line1), Some(line2), Some(city), Some(region), Some(postal_code), Some(country))
                if errors.0.is_empty() =>
            {
                let region = region
                    .map(|r| if country.required_regions().is_some() { Region(r.0.to_ascii_uppercase()) } else { r });
                Ok(Self { name, line1, line2, city, region, postal_code, country })
            }
            _ => Err(errors.0),
        }
    }
}

#[derive(Default)]
struct FieldErrors(Vec<AddressFieldError>);

impl FieldErrors {
    fn check<T>(&mut self, field: &'static str, result: Result<T, Invalid>) -> Option<T> {
        result.map_err(|problem| self.0.push(AddressFieldError { field, problem })).ok()
    }

    fn add(&mut self, field: &'static str, reason: String) {
        self.0.push(AddressFieldError { field, problem: Invalid::new(reason) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us_address<'a>() -> AddressFields<'a> {
        AddressFields {
            name: "Ada Lovelace",
            line1: "1 Infinite Loop",
            line2: None,
            city: "Cupertino",
            region: Some("ca"),
            postal_code: "95014",
            country: "us",
        }
    }

    fn fields_in_error(fields: &AddressFields<'_>) -> Vec<&'static str> {
        PostalAddress::parse(fields).unwrap_err().into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn a_us_address_parses_with_upper_case_country_and_state() {
        let address = PostalAddress::parse(&us_address()).unwrap();
        assert_eq!(address.country.as_str(), "US");
        assert_eq!(address.region.unwrap().as_ref(), "CA");
    }

    #[test]
    fn a_us_address_needs_a_known_state() {
        assert_eq!(fields_in_error(&AddressFields { region: None, ..us_address() }), ["region"]);
        assert_eq!(fields_in_error(&AddressFields { region: Some("XX"), ..us_address() }), ["region"]);
    }

    #[test]
    fn postal_codes_follow_the_country_format_where_known() {
        assert!(PostalAddress::parse(&AddressFields { postal_code: "95014-2083", ..us_address() }).is_ok());
        assert_eq!(fields_in_error(&AddressFields { postal_code: "9501", ..us_address() }), ["postalCode"]);
        let london =
            AddressFields { region: None, postal_code: "sw1a 1aa", country: "GB", city: "London", ..us_address() };
        assert_eq!(PostalAddress::parse(&london).unwrap().postal_code.as_ref(), "SW1A 1AA");
        let toronto = AddressFields { region: Some("ON"), postal_code: "M5V3L9", country: "CA", ..us_address() };
        assert!(PostalAddress::parse(&toronto).is_ok());
    }

    #[test]
    fn countries_without_known_formats_accept_any_plausible_postal_code() {
        let fields = AddressFields { region: None, postal_code: "LV-1050", country: "LV", ..us_address() };
        assert!(PostalAddress::parse(&fields).is_ok());
    }

    #[test]
    fn every_listed_code_is_two_letters_and_a_space() {
        for list in [ISO_3166_1_ALPHA_2, crate::pricing::shipping::EUROPE] {
            assert!(list.split(' ').all(|code| code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase())));
        }
        assert!(lists_code(ISO_3166_1_ALPHA_2, *b"ZW") && lists_code(ISO_3166_1_ALPHA_2, *b"AD"));
        assert!(!lists_code(ISO_3166_1_ALPHA_2, *b"XX"));
    }

    #[test]
    fn unknown_countries_are_rejected() {
        assert_eq!(fields_in_error(&AddressFields { country: "XX", ..us_address() }), ["country"]);
        assert_eq!(fields_in_error(&AddressFields { country: "USA", ..us_address() }), ["country"]);
    }

    #[test]
    fn every_wrong_field_is_reported() {
        let fields = AddressFields { name: "", city: " ", country: "ZZ", ..us_address() };
        assert_eq!(fields_in_error(&fields), ["name", "city", "country"]);
    }
}
