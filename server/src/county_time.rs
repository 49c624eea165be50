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
