//! Money: exact per-unit prices and integer nano-dollar amounts.
//!
//! Two types for two jobs. A [`UnitPrice`] is what a provider charges for one
//! unit (a token, an image, a second); it needs many decimal places (gpt-4o
//! input is 0.0000025 USD a token), so it is a [`Decimal`] read from the price
//! map's own digits, never through `f64`. A [`NanoUsd`] is what one event
//! costs: an integer count of 10⁻⁹ USD, which adds, compares and stores
//! exactly (an `INTEGER` column) and holds ±9.2 billion USD.

use std::fmt;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::Error;

/// An amount of money in nano-USD (10⁻⁹ USD). Negative amounts are allowed
/// (credits, refunds); arithmetic is checked, never wrapping.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NanoUsd(i64);

impl NanoUsd {
    pub const ZERO: NanoUsd = NanoUsd(0);
    /// Nano-USD in one USD.
    pub const PER_USD: i64 = 1_000_000_000;
    /// Decimal places of a USD amount held as nano-USD.
    pub const DECIMAL_PLACES: u32 = 9;

    /// An amount from a count of nano-USD.
    pub const fn from_nanos(nanos: i64) -> Self {
        NanoUsd(nanos)
    }

    /// The amount as a count of nano-USD.
    pub const fn nanos(self) -> i64 {
        self.0
    }

    /// Converts an exact USD amount, rounding to the nearest nano-USD.
    ///
    /// Rounding rule: half to even (banker's rounding,
    /// [`RoundingStrategy::MidpointNearestEven`]), applied once per event to
    /// the exact decimal sum of all its parts. Half-to-even has no upward
    /// bias: over millions of events whose cost lands exactly on half a
    /// nano-USD, as many round down as up, so totals stay fair to both sides.
    /// Rounding once per event (not per part) keeps the sum of an event's
    /// lines from drifting from its total by more than half a nano-USD.
    ///
    /// Fails only when the amount is beyond ±9.2 billion USD.
    pub fn from_decimal_usd(usd: Decimal) -> Result<Self, Error> {
        let too_large = || Error::invalid("amount", format!("{usd} USD is too large to hold in nano-USD"));
        let rounded = usd.round_dp_with_strategy(Self::DECIMAL_PLACES, RoundingStrategy::MidpointNearestEven);
        // After rounding the scale is at most 9: widen the mantissa to exactly 9.
        let widen = 10i128.pow(Self::DECIMAL_PLACES - rounded.scale());
        let nanos = rounded.mantissa().checked_mul(widen).ok_or_else(too_large)?;
        i64::try_from(nanos).map(NanoUsd).map_err(|_| too_large())
    }

    /// The exact USD value (scale 9).
    pub fn to_decimal_usd(self) -> Decimal {
        Decimal::new(self.0, Self::DECIMAL_PLACES)
    }

    /// The amount in USD with all nine decimal places, e.g. `"0.000123450"`.
    pub fn to_usd_string(self) -> String {
        self.to_string()
    }

    /// The exact amount with at least two decimals and no trailing zeros
    /// beyond them: `12.50`, `0.000002`, `29.00`.
    pub fn to_short_usd_string(self) -> String {
        let full = self.to_string();
        let Some((int, frac)) = full.split_once('.') else { return full };
        let frac = frac.trim_end_matches('0');
        format!("{int}.{frac:0<2}")
    }

    /// The amount as a person reads it, with its dollar sign: cents from
    /// half a cent up (`$10.08` for 10.082816585), and below that four
    /// significant digits without trailing zeros (`$0.003214`,
    /// `$0.0000191`), so a small amount never reads as `$0.00`. Rounded half
    /// away from zero, for display only: the API and tooltips keep the
    /// exact figure ([`Self::to_usd_string`]).
    pub fn for_people(self) -> String {
        const CENT: i128 = 10_000_000;
        let n = self.0 as i128;
        let (sign, abs) = if n < 0 { ("-", -n) } else { ("", n) };
        if abs == 0 || abs >= CENT / 2 {
            let cents = (abs + CENT / 2) / CENT;
            return format!("{sign}${}.{:02}", cents / 100, cents % 100);
        }
        // Under 5,000,000 nanos: "0." and nine places, 4 of them significant.
        let unit = 10i128.pow((abs.to_string().len() as u32).saturating_sub(4));
        let kept = (abs + unit / 2) / unit * unit;
        let places = format!("{kept:09}");
        format!("{sign}$0.{}", places.trim_end_matches('0'))
    }

    /// Parses a USD amount written in decimal (`"12.5"`, `"-0.000000001"`).
    /// Refuses more than nine decimal places rather than rounding someone's
    /// typed amount behind their back.
    pub fn parse_usd(text: &str) -> Result<Self, Error> {
        let bad = |m: &str| Error::invalid("amount", m.to_string());
        let usd = parse_exact_decimal(text.trim()).map_err(|m| bad(m))?;
        if usd.normalize().scale() > Self::DECIMAL_PLACES {
            return Err(bad("has more than 9 decimal places"));
        }
        Self::from_decimal_usd(usd)
    }

    /// Sum, or `None` on overflow.
    pub fn checked_add(self, other: NanoUsd) -> Option<NanoUsd> {
        self.0.checked_add(other.0).map(NanoUsd)
    }

    /// Difference, or `None` on overflow.
    pub fn checked_sub(self, other: NanoUsd) -> Option<NanoUsd> {
        self.0.checked_sub(other.0).map(NanoUsd)
    }
}

impl fmt::Display for NanoUsd {
    /// USD with exactly nine decimal places; integer arithmetic, no rounding.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let per = Self::PER_USD as u64;
        write!(f, "{sign}{}.{:09}", abs / per, abs % per)
    }
}

/// A price in USD for one unit (token, image, second, request). Never
/// negative: a price map that says otherwise is refused when it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "Decimal", into = "Decimal")]
pub struct UnitPrice(Decimal);

impl UnitPrice {
    pub const ZERO: UnitPrice = UnitPrice(Decimal::ZERO);

    /// A price from an exact USD amount; refuses negatives.
    pub fn new(usd: Decimal) -> Result<Self, Error> {
        if usd.is_sign_negative() && !usd.is_zero() {
            return Err(Error::invalid("price", format!("{usd} must not be negative")));
        }
        Ok(UnitPrice(usd))
    }

    /// Parses a price from a JSON number's text, exactly: `"3e-06"`,
    /// `"1.5e-07"`, `"0.0002833333333333333"`, `"15"`.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let usd = parse_exact_decimal(text).map_err(|m| Error::invalid("price", format!("{text:?} {m}")))?;
        Self::new(usd)
    }

    /// The price in USD per unit.
    pub fn usd(self) -> Decimal {
        self.0
    }
}

impl TryFrom<Decimal> for UnitPrice {
    type Error = Error;
    fn try_from(usd: Decimal) -> Result<Self, Error> {
        UnitPrice::new(usd)
    }
}

impl From<UnitPrice> for Decimal {
    fn from(price: UnitPrice) -> Decimal {
        price.0
    }
}

impl fmt::Display for UnitPrice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.normalize(), f)
    }
}

/// Reads a JSON number's text (`-?int(.frac)?([eE][+-]?exp)?`) into a
/// [`Decimal`] without any binary floating point step, so `1.5e-07` is exactly
/// 0.00000015. Trailing zeros are dropped only when needed to fit Decimal's 28
/// decimal places; a value that still does not fit is refused, never rounded.
/// On error, returns a phrase that completes "<value> ...".
pub(crate) fn parse_exact_decimal(text: &str) -> Result<Decimal, &'static str> {
    const NOT_A_NUMBER: &str = "is not a decimal number";
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(at) => {
            let exp: i64 = rest[at + 1..].parse().map_err(|_| NOT_A_NUMBER)?;
            (&rest[..at], exp)
        }
        None => (rest, 0),
    };
    let (int_part, frac_part) = match mantissa.split_once('.') {
        Some((int_part, frac_part)) if !frac_part.is_empty() => (int_part, frac_part),
        Some(_) => return Err(NOT_A_NUMBER),
        None => (mantissa, ""),
    };
    if int_part.is_empty() || !int_part.bytes().chain(frac_part.bytes()).all(|b| b.is_ascii_digit()) {
        return Err(NOT_A_NUMBER);
    }
    if !(-100..=100).contains(&exponent) {
        return Err("has an exponent out of range");
    }

    let mut digits: u128 = 0;
    for b in int_part.bytes().chain(frac_part.bytes()) {
        digits = digits
            .checked_mul(10)
            .and_then(|d| d.checked_add(u128::from(b - b'0')))
            .ok_or("has too many digits")?;
    }
    if digits == 0 {
        return Ok(Decimal::ZERO);
    }
    let mut scale = frac_part.len() as i64 - exponent;
    if scale < 0 {
        let factor = 10u128.checked_pow((-scale) as u32).ok_or("is too large")?;
        digits = digits.checked_mul(factor).ok_or("is too large")?;
        scale = 0;
    }
    while scale > i64::from(Decimal::MAX_SCALE) && digits % 10 == 0 {
        digits /= 10;
        scale -= 1;
    }
    if scale > i64::from(Decimal::MAX_SCALE) {
        return Err("needs more than 28 decimal places");
    }
    let magnitude = i128::try_from(digits).map_err(|_| "is too large")?;
    let signed = if negative { -magnitude } else { magnitude };
    Decimal::try_from_i128_with_scale(signed, scale as u32).map_err(|_| "is too large")
}

/// Cost per 1,000 tokens in USD as a decimal string: exact decimal division,
/// rounded half to even at 9 decimal places (a price quoted per token can be
/// far below a nano-USD; per 1,000 tokens it rarely is). `None` without tokens.
pub fn cost_per_1k_tokens(cost: NanoUsd, tokens: i64) -> Option<String> {
    if tokens <= 0 {
        return None;
    }
    let usd = Decimal::new(cost.nanos(), 9) * Decimal::from(1000) / Decimal::from(tokens);
    let rounded = usd.round_dp_with_strategy(9, RoundingStrategy::MidpointNearestEven);
    Some(format!("{rounded:.9}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn amounts_for_people_show_cents_or_four_significant_digits_below_a_cent() {
        let p = |nanos: i64| super::NanoUsd::from_nanos(nanos).for_people();
        assert_eq!(p(10_082_816_585), "$10.08", "the recommendation of issue 23");
        assert_eq!(p(235_000_000), "$0.24", "half a cent rounds up");
        assert_eq!(p(1_000_000_000), "$1.00");
        assert_eq!(p(0), "$0.00");
        assert_eq!(p(10_000_000), "$0.01");
        assert_eq!(p(5_000_000), "$0.01");
        assert_eq!(p(3_214_499), "$0.003214");
        assert_eq!(p(3_200_000), "$0.0032");
        assert_eq!(p(4_999_999), "$0.005", "4 significant digits, trailing zeros dropped");
        assert_eq!(p(19_100), "$0.0000191");
        assert_eq!(p(1), "$0.000000001", "never zero when it is not");
        assert_eq!(p(-2_500_000_000), "-$2.50");
        assert_eq!(p(-19_100), "-$0.0000191");
        assert_eq!(p(123_456_789_012_345), "$123456.79");
    }

    #[test]
    fn cost_per_thousand_tokens_is_exact_to_nine_places() {
        use super::{cost_per_1k_tokens, NanoUsd};
        let per_1k = |nanos, tokens| cost_per_1k_tokens(NanoUsd::from_nanos(nanos), tokens);
        // $0.008 for 2,400 tokens: 0.00333… per 1k, rounded at the 9th place.
        assert_eq!(per_1k(8_000_000, 2_400).as_deref(), Some("0.003333333"));
        assert_eq!(per_1k(2_500_000, 1_000).as_deref(), Some("0.002500000"));
        // Far below a nano-USD per token still shows per 1k.
        assert_eq!(per_1k(20, 1_000).as_deref(), Some("0.000000020"));
        assert_eq!(per_1k(5, 0), None);
    }

    use std::str::FromStr;

    use super::*;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn scientific_notation_is_parsed_exactly() {
        assert_eq!(parse_exact_decimal("1.5e-07").unwrap(), dec("0.00000015"));
        assert_eq!(parse_exact_decimal("3e-06").unwrap(), dec("0.000003"));
        assert_eq!(parse_exact_decimal("2.625e-07").unwrap(), dec("0.0000002625"));
        assert_eq!(parse_exact_decimal("1E+2").unwrap(), dec("100"));
        assert_eq!(parse_exact_decimal("1.25e1").unwrap(), dec("12.5"));
        // A float artefact in the price map survives digit for digit.
        assert_eq!(parse_exact_decimal("4.0000000000000003e-07").unwrap(), dec("0.00000040000000000000003"));
        assert_eq!(parse_exact_decimal("0.0002833333333333333").unwrap(), dec("0.0002833333333333333"));
    }

    #[test]
    fn plain_decimals_and_integers_parse() {
        assert_eq!(parse_exact_decimal("0").unwrap(), Decimal::ZERO);
        assert_eq!(parse_exact_decimal("0.0").unwrap(), Decimal::ZERO);
        assert_eq!(parse_exact_decimal("15").unwrap(), dec("15"));
        assert_eq!(parse_exact_decimal("-0.5").unwrap(), dec("-0.5"));
    }

    #[test]
    fn trailing_zeros_are_dropped_only_to_fit_and_nothing_is_rounded() {
        assert_eq!(parse_exact_decimal("1.0e-28").unwrap(), dec("0.0000000000000000000000000001"));
        assert!(parse_exact_decimal("1e-29").is_err());
        assert!(parse_exact_decimal("1.2345678901234567e-13").is_err());
    }

    #[test]
    fn malformed_numbers_are_refused() {
        for bad in ["", "-", ".5", "5.", "1e", "1e+", "0x10", "1_000", "1.2.3", "NaN", "1e999", " 1"] {
            assert!(parse_exact_decimal(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn exactly_half_a_nano_rounds_to_even() {
        let nanos = |s: &str| NanoUsd::from_decimal_usd(dec(s)).unwrap().nanos();
        assert_eq!(nanos("0.0000000005"), 0); // 0.5 nano -> 0
        assert_eq!(nanos("0.0000000015"), 2); // 1.5 nano -> 2
        assert_eq!(nanos("0.0000000025"), 2); // 2.5 nano -> 2
        assert_eq!(nanos("0.0000000035"), 4); // 3.5 nano -> 4
        assert_eq!(nanos("-0.0000000025"), -2);
        assert_eq!(nanos("-0.0000000035"), -4);
    }

    #[test]
    fn off_midpoint_amounts_round_to_nearest() {
        let nanos = |s: &str| NanoUsd::from_decimal_usd(dec(s)).unwrap().nanos();
        assert_eq!(nanos("0.00000000050000001"), 1);
        assert_eq!(nanos("0.00000000249999999"), 2);
        assert_eq!(nanos("1.5"), 1_500_000_000);
        assert_eq!(nanos("0.00012345"), 123_450);
    }

    #[test]
    fn amounts_beyond_i64_nanos_are_refused() {
        assert!(NanoUsd::from_decimal_usd(dec("9223372036.854775807")).is_ok());
        assert!(NanoUsd::from_decimal_usd(dec("9223372036.854775808")).is_err());
        assert!(NanoUsd::from_decimal_usd(dec("1e20")).is_err());
    }

    #[test]
    fn displays_usd_with_nine_places() {
        assert_eq!(NanoUsd::from_nanos(123_450).to_usd_string(), "0.000123450");
        assert_eq!(NanoUsd::from_nanos(1_500_000_000).to_string(), "1.500000000");
        assert_eq!(NanoUsd::from_nanos(-1).to_string(), "-0.000000001");
        assert_eq!(NanoUsd::ZERO.to_string(), "0.000000000");
        assert_eq!(NanoUsd::from_nanos(i64::MIN).to_string(), "-9223372036.854775808");
    }

    #[test]
    fn short_strings_keep_every_significant_digit() {
        assert_eq!(NanoUsd::from_nanos(12_500_000_000).to_short_usd_string(), "12.50");
        assert_eq!(NanoUsd::from_nanos(2_000).to_short_usd_string(), "0.000002");
        assert_eq!(NanoUsd::from_nanos(29_000_000_000).to_short_usd_string(), "29.00");
        assert_eq!(NanoUsd::from_nanos(-1).to_short_usd_string(), "-0.000000001");
    }

    #[test]
    fn parse_usd_round_trips_and_refuses_sub_nano_amounts() {
        assert_eq!(NanoUsd::parse_usd("0.000123450").unwrap(), NanoUsd::from_nanos(123_450));
        assert_eq!(NanoUsd::parse_usd(" 12.5 ").unwrap(), NanoUsd::from_nanos(12_500_000_000));
        assert_eq!(NanoUsd::parse_usd("0.0000000010").unwrap(), NanoUsd::from_nanos(1));
        let err = NanoUsd::parse_usd("0.0000000001").unwrap_err();
        assert_eq!(err.field(), Some("amount"));
        assert!(NanoUsd::parse_usd("ten").is_err());
    }

    #[test]
    fn checked_arithmetic_reports_overflow() {
        let max = NanoUsd::from_nanos(i64::MAX);
        assert_eq!(max.checked_add(NanoUsd::from_nanos(1)), None);
        assert_eq!(NanoUsd::from_nanos(2).checked_add(NanoUsd::from_nanos(3)), Some(NanoUsd::from_nanos(5)));
        assert_eq!(NanoUsd::from_nanos(i64::MIN).checked_sub(NanoUsd::from_nanos(1)), None);
    }

    #[test]
    fn unit_prices_are_never_negative() {
        assert_eq!(UnitPrice::parse("2.5e-06").unwrap().usd(), dec("0.0000025"));
        assert_eq!(UnitPrice::parse("2.5e-06").unwrap().to_string(), "0.0000025");
        assert!(UnitPrice::parse("-1e-06").is_err());
        assert!(UnitPrice::new(dec("-0.1")).is_err());
        assert!(UnitPrice::parse("-0").is_ok());
    }

    #[test]
    fn unit_price_serializes_as_an_exact_string() {
        let p = UnitPrice::parse("1.5e-07").unwrap();
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, "\"0.00000015\"");
        let back: UnitPrice = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p);
        assert!(serde_json::from_str::<UnitPrice>("\"-1\"").is_err());
    }
}
