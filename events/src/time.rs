use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;
use std::fmt;

/// `0000-01-01T00:00:00.000Z` and `9999-12-31T23:59:59.999Z`: the first and last instants RFC 3339
/// can write in UTC.
const EARLIEST_MS: i64 = -62_167_219_200_000;
const LATEST_MS: i64 = 253_402_300_799_999;

/// A point in time with millisecond precision, written as RFC 3339 UTC (`2026-11-24T10:15:00.123Z`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn now() -> Timestamp {
        Timestamp(Utc::now().timestamp_millis())
    }

    pub fn millis(self) -> i64 {
        self.0
    }

    /// Parses any RFC 3339 time, truncating to milliseconds. `None` for an instant outside years
    /// 0000-9999 in UTC (an offset or a leap second can reach one), which could not be written back.
    pub fn parse(s: &str) -> Option<Timestamp> {
        DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.timestamp_millis())
            .filter(|ms| (EARLIEST_MS..=LATEST_MS).contains(ms))
            .map(Timestamp)
    }

    pub fn to_rfc3339(self) -> String {
        match Utc.timestamp_millis_opt(self.0) {
            chrono::LocalResult::Single(t) => t.to_rfc3339_opts(SecondsFormat::Millis, true),
            _ => String::from("1970-01-01T00:00:00.000Z"),
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// Human-readable formats (JSON: the log, the API) get RFC 3339; binary formats (the view store) get
/// the milliseconds as an integer.
impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&self.to_rfc3339())
        } else {
            s.serialize_i64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if !d.is_human_readable() {
            return i64::deserialize(d).map(Timestamp);
        }
        let s = String::deserialize(d)?;
        Timestamp::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("not an RFC 3339 time: {s}")))
    }
}

/// The schema says what the server writes (UTC, milliseconds, `Z`); readers accept any RFC 3339 time
/// of years 0000-9999 in UTC.
impl schemars::JsonSchema for Timestamp {
    fn schema_name() -> Cow<'static, str> {
        "Timestamp".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "RFC 3339 UTC with milliseconds: 2026-11-24T10:15:00.123Z.",
            "type": "string",
            "format": "date-time",
            "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_with_millis() {
        let t = Timestamp::parse("2026-11-24T11:15:00.123+01:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-24T10:15:00.123Z");
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00.000Z");
    }

    /// Found by the `event_decode` fuzz target: an offset or a leap second moves a time of year
    /// 0000 or 9999 out of years 0000-9999 in UTC, which RFC 3339 cannot write
    /// (`+10000-01-01T00:00:00.999Z`), so a time that was read could not be read back.
    #[test]
    fn reads_only_times_it_can_write_back() {
        for edge in ["0000-01-01T00:00:00.000Z", "9999-12-31T23:59:59.999Z"] {
            let t = Timestamp::parse(edge).unwrap();
            assert_eq!(t.to_rfc3339(), edge);
        }
        for outside in [
            "9999-12-31T23:59:60.999Z",
            "9999-12-31T23:59:59.999-00:01",
            "0000-01-01T00:00:00+00:01",
        ] {
            assert_eq!(Timestamp::parse(outside), None, "{outside}");
        }
    }
}
