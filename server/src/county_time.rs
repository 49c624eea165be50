//! The county's time zone (issue 13 item 9): configuration (`--time-zone`,
//! `GRIDSYNC_TIME_ZONE`, default `Asia/Shanghai`), resolved once at start against the IANA
//! tz database bundled in the binary (jiff's `tzdb-bundle-always`), so a machine without
//! `/usr/share/zoneinfo` behaves like any other. Case numbers, the days and months of
//! statistics and the dates written in exports are the county's calendar days in this zone.
//!
//! `sync-core` knows no time-zone database: it takes the UTC offset of an instant
//! ([`gridsync_core::case::Timestamp::date_at`]), which [`CountyTime::offset_at`] gives.

use gridsync_core::case::Timestamp;

use crate::error::{Error, Result};

/// The zone used when none is configured.
pub const DEFAULT_TIME_ZONE: &str = "Asia/Shanghai";

/// The county's time zone: dates of instants and the instants days and months start at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CountyTime {
    name: String,
    tz: jiff::tz::TimeZone,
}

impl Default for CountyTime {
    fn default() -> Self {
        CountyTime::shanghai()
    }
}

impl CountyTime {
    /// An IANA time-zone name (`Asia/Shanghai`, `America/New_York`); anything else is a
    /// configuration error naming it.
    pub fn parse(name: &str) -> Result<CountyTime> {
        let name = name.trim();
        // The database also knows fixed offsets and POSIX strings by other routes; a county
        // is named by its IANA zone.
        if name.is_empty() || (!name.contains('/') && name != "UTC") {
            return Err(unknown(name));
        }
        let tz = jiff::tz::TimeZone::get(name).map_err(|_| unknown(name))?;
        Ok(CountyTime {
            name: name.to_owned(),
            tz,
        })
    }

    /// China Standard Time, the default.
    pub fn shanghai() -> CountyTime {
        CountyTime::parse(DEFAULT_TIME_ZONE).expect("the bundled database knows Asia/Shanghai")
    }

    /// The IANA name, as configured.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The zone's UTC offset at `t`.
    pub fn offset_at(&self, t: Timestamp) -> time::UtcOffset {
        let instant = jiff::Timestamp::from_millisecond(t.0).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let seconds = self.tz.to_offset(instant).seconds();
        time::UtcOffset::from_whole_seconds(seconds).unwrap_or(time::UtcOffset::UTC)
    }

    /// The county's calendar date at `t`.
    pub fn date(&self, t: Timestamp) -> time::Date {
        t.date_at(self.offset_at(t))
    }

    /// The instant (epoch ms) the county's day `d` starts at (the first instant of that
    /// date: 01:00 where a transition skips midnight).
    pub fn start_of_day(&self, d: time::Date) -> i64 {
        let start = jiff::civil::Date::new(
            d.year().clamp(-9999, 9999) as i16,
            u8::from(d.month()) as i8,
            d.day() as i8,
        )
        .and_then(|civil| civil.to_zoned_datetime(self.tz.clone()))
        .and_then(|z| z.start_of_day());
        match start {
            Ok(z) => z.timestamp().as_millisecond(),
            // Beyond jiff's range (years ±9999): the offset of the epoch is as good as any.
            Err(_) => {
                let offset = self.offset_at(Timestamp(0));
                d.midnight().assume_offset(offset).unix_timestamp() * 1000
            }
        }
    }

    /// The instant the month holding `d` starts at.
    pub fn start_of_month(&self, d: time::Date) -> i64 {
        self.start_of_day(d.replace_day(1).unwrap_or(d))
    }
}

impl CountyTime {
    /// `ms` (epoch milliseconds) as the API shows it: in this zone's offset at that instant.
    pub fn stamp(&self, ms: i64) -> Stamp {
        Stamp {
            millis: ms,
            offset_seconds: self.offset_at(Timestamp(ms)).whole_seconds(),
        }
    }

    /// [`CountyTime::stamp`] of an optional instant.
    pub fn stamp_opt(&self, ms: Option<i64>) -> Option<Stamp> {
        ms.map(|ms| self.stamp(ms))
    }
}

/// An instant in the API: RFC 3339 with its offset (`2026-12-05T14:30:00+08:00`;
/// milliseconds when there are any). Answers carry the county's offset at that instant;
/// requests may give any offset (`Z` too), which is read as the instant it names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Stamp {
    /// Epoch milliseconds.
    pub millis: i64,
    offset_seconds: i32,
}

impl Stamp {
    /// Epoch milliseconds.
    pub fn millis(self) -> i64 {
        self.millis
    }
}

impl std::fmt::Display for Stamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let instant =
            jiff::Timestamp::from_millisecond(self.millis).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let offset =
            jiff::tz::Offset::from_seconds(self.offset_seconds).unwrap_or(jiff::tz::Offset::UTC);
        write!(f, "{}", instant.display_with_offset(offset))
    }
}

impl std::str::FromStr for Stamp {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Stamp, String> {
        let instant: jiff::Timestamp = s.parse().map_err(|e| {
            format!("{s:?} is not an RFC 3339 time with an offset (2026-12-05T14:30:00+08:00): {e}")
        })?;
        // The offset as written, for echoing; only the instant matters.
        let offset_seconds = s
            .rfind(['+', '-'])
            .filter(|at| *at > 10)
            .and_then(|at| {
                let rest = &s[at..];
                let mut parts = rest[1..].split(':');
                let h: i32 = parts.next()?.parse().ok()?;
                let m: i32 = parts.next().unwrap_or("0").parse().ok()?;
                let secs = h * 3600 + m * 60;
                Some(if rest.starts_with('-') { -secs } else { secs })
            })
            .unwrap_or(0);
        Ok(Stamp {
            millis: instant.as_millisecond(),
            offset_seconds,
        })
    }
}

impl serde::Serialize for Stamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Stamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Stamp, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for Stamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .description(Some("RFC 3339 with its offset; answers use the county's"))
            .examples(["2026-12-05T14:30:00+08:00"])
            .into()
    }
}

impl utoipa::ToSchema for Stamp {}

fn unknown(name: &str) -> Error {
    Error::Config(format!(
        "unknown time zone {name:?}: give an IANA name such as {DEFAULT_TIME_ZONE} or America/New_York"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> time::Date {
        crate::stats::parse_date(s).unwrap()
    }

    #[test]
    fn stamps_are_rfc3339_with_the_countys_offset_and_read_back() {
        let shanghai = CountyTime::default();
        let stamp = shanghai.stamp(1_706_716_800_000);
        assert_eq!(stamp.to_string(), "2024-02-01T00:00:00+08:00");
        let with_ms = shanghai.stamp(1_706_716_800_123);
        assert_eq!(with_ms.to_string(), "2024-02-01T00:00:00.123+08:00");
        for text in [
            "2024-02-01T00:00:00+08:00",
            "2024-01-31T16:00:00Z",
            "2024-01-31T11:00:00-05:00",
        ] {
            let read: Stamp = text.parse().unwrap();
            assert_eq!(read.millis(), 1_706_716_800_000, "{text}");
        }
        assert!("2024-02-01 00:00".parse::<Stamp>().is_err());
        assert!("1706716800000".parse::<Stamp>().is_err());
        let json = serde_json::to_string(&stamp).unwrap();
        assert_eq!(json, "\"2024-02-01T00:00:00+08:00\"");
        assert_eq!(
            serde_json::from_str::<Stamp>(&json).unwrap().millis(),
            stamp.millis()
        );
    }

    #[test]
    fn dates_and_day_starts_follow_the_zone() {
        let shanghai = CountyTime::default();
        assert_eq!(shanghai.name(), "Asia/Shanghai");
        // 2024-02-01 00:00 +08:00 = 2024-01-31T16:00Z.
        assert_eq!(shanghai.start_of_day(date("2024-02-01")), 1_706_716_800_000);
        assert_eq!(
            shanghai.date(Timestamp(1_706_716_800_000)),
            date("2024-02-01")
        );
        assert_eq!(
            shanghai.date(Timestamp(1_706_716_800_000 - 1)),
            date("2024-01-31")
        );

        let new_york = CountyTime::parse("America/New_York").unwrap();
        // Daylight saving: -05:00 in winter, -04:00 from 2024-03-10.
        assert_eq!(
            new_york
                .offset_at(Timestamp(1_706_716_800_000))
                .whole_hours(),
            -5
        );
        let march_10 = new_york.start_of_day(date("2024-03-10"));
        let march_11 = new_york.start_of_day(date("2024-03-11"));
        assert_eq!(march_11 - march_10, 23 * Timestamp::HOUR, "a 23-hour day");
        assert_eq!(
            new_york.start_of_month(date("2024-03-17")),
            march_10 - 9 * Timestamp::DAY
        );

        let kolkata = CountyTime::parse("Asia/Kolkata").unwrap();
        assert_eq!(kolkata.offset_at(Timestamp(0)).whole_minutes(), 5 * 60 + 30);
    }

    #[test]
    fn unknown_names_are_refused_by_name() {
        for bad in ["", "Mars/Olympus_Mons", "+08:00", "CST", "Asia/Shanghai/x"] {
            let e = CountyTime::parse(bad).unwrap_err().to_string();
            assert!(e.contains("unknown time zone"), "{bad}: {e}");
        }
        assert!(CountyTime::parse("UTC").is_ok());
    }
}
