//! Prices as a person types them, and the exact prices they stand for.
//!
//! People think of token prices per million tokens ("$2.50 / 1M input
//! tokens"); the price book stores them per token (0.0000025). The
//! conversion is a shift of the decimal point by six places, done on the
//! decimal's scale, so it is exact both ways: nothing goes through `f64` and
//! a price shown in a form comes back unchanged when the form is sent.
//!
//! Pure (no storage, no clock): the browser uses the same code to prefill a
//! form that the server uses to read it.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::money::{parse_exact_decimal, UnitPrice};
use super::ModelPrice;
use crate::Error;

/// Tokens in the unit people quote token prices in.
const PER_MILLION_SCALE: u32 = 6;

impl UnitPrice {
    /// The price of one million units (a per-token price as "per 1M tokens"),
    /// exactly.
    pub fn per_million(self) -> UnitPrice {
        let usd = self.usd().normalize();
        let scaled = if usd.scale() >= PER_MILLION_SCALE {
            Decimal::from_i128_with_scale(usd.mantissa(), usd.scale() - PER_MILLION_SCALE)
        } else {
            // Fewer than six decimal places: multiply the mantissa instead.
            let factor = 10i128.pow(PER_MILLION_SCALE - usd.scale());
            match usd.mantissa().checked_mul(factor).and_then(|m| Decimal::try_from_i128_with_scale(m, 0).ok()) {
                Some(d) => d,
                // Beyond 7.9e28 USD per million units: no real price; keep it
                // representable rather than panic.
                None => Decimal::MAX,
            }
        };
        UnitPrice::new(scaled).unwrap_or(UnitPrice::ZERO)
    }

    /// Reads a price per million units and returns the price per unit,
    /// exactly. Refuses what would need more than 28 decimal places per unit
    /// rather than rounding it.
    pub fn from_per_million(per_million: Decimal) -> Result<UnitPrice, Error> {
        let d = per_million.normalize();
        let scale = d.scale() + PER_MILLION_SCALE;
        if scale > Decimal::MAX_SCALE {
            return Err(Error::invalid("price", "has more than 22 decimal places per 1M"));
        }
        UnitPrice::new(Decimal::from_i128_with_scale(d.mantissa(), scale))
    }
}

/// One price a person can edit: the unit it is quoted in and where it lives
/// in a [`ModelPrice`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceKind {
    Input,
    Output,
    CacheRead,
    CacheWrite,
    Reasoning,
    InputPerImage,
    OutputPerImage,
    InputPerSecond,
    OutputPerSecond,
    PerRequest,
    PerQuery,
}

impl PriceKind {
    /// Every editable price, in the order forms show them.
    pub const ALL: [PriceKind; 11] = [
        PriceKind::Input,
        PriceKind::Output,
        PriceKind::CacheRead,
        PriceKind::CacheWrite,
        PriceKind::Reasoning,
        PriceKind::InputPerImage,
        PriceKind::OutputPerImage,
        PriceKind::InputPerSecond,
        PriceKind::OutputPerSecond,
        PriceKind::PerRequest,
        PriceKind::PerQuery,
    ];

    /// The name used in forms and in error messages ("input price: …").
    pub fn label(self) -> &'static str {
        match self {
            PriceKind::Input => "input price",
            PriceKind::Output => "output price",
            PriceKind::CacheRead => "cache read price",
            PriceKind::CacheWrite => "cache write price",
            PriceKind::Reasoning => "reasoning price",
            PriceKind::InputPerImage => "input image price",
            PriceKind::OutputPerImage => "output image price",
            PriceKind::InputPerSecond => "input second price",
            PriceKind::OutputPerSecond => "output second price",
            PriceKind::PerRequest => "request price",
            PriceKind::PerQuery => "query price",
        }
    }

    /// The name of this price's field in [`PriceFields`] (and in forms).
    pub fn key(self) -> &'static str {
        match self {
            PriceKind::Input => "input",
            PriceKind::Output => "output",
            PriceKind::CacheRead => "cache_read",
            PriceKind::CacheWrite => "cache_write",
            PriceKind::Reasoning => "reasoning",
            PriceKind::InputPerImage => "input_per_image",
            PriceKind::OutputPerImage => "output_per_image",
            PriceKind::InputPerSecond => "input_per_second",
            PriceKind::OutputPerSecond => "output_per_second",
            PriceKind::PerRequest => "per_request",
            PriceKind::PerQuery => "per_query",
        }
    }

    /// The unit a person types this price in.
    pub fn unit(self) -> &'static str {
        match self {
            PriceKind::Input | PriceKind::Output | PriceKind::CacheRead | PriceKind::CacheWrite | PriceKind::Reasoning => {
                "USD per 1M tokens"
            }
            PriceKind::InputPerImage | PriceKind::OutputPerImage => "USD per image",
            PriceKind::InputPerSecond | PriceKind::OutputPerSecond => "USD per second",
            PriceKind::PerRequest => "USD per request",
            PriceKind::PerQuery => "USD per query",
        }
    }

    /// Token prices are typed per million tokens; the rest per unit.
    pub fn is_per_token(self) -> bool {
        matches!(
            self,
            PriceKind::Input | PriceKind::Output | PriceKind::CacheRead | PriceKind::CacheWrite | PriceKind::Reasoning
        )
    }

    /// The stored (per-unit) price of this kind.
    pub fn get(self, p: &ModelPrice) -> Option<UnitPrice> {
        match self {
            PriceKind::Input => p.input,
            PriceKind::Output => p.output,
            PriceKind::CacheRead => p.cache_read,
            PriceKind::CacheWrite => p.cache_write,
            PriceKind::Reasoning => p.reasoning,
            PriceKind::InputPerImage => p.input_per_image,
            PriceKind::OutputPerImage => p.output_per_image,
            PriceKind::InputPerSecond => p.input_per_second,
            PriceKind::OutputPerSecond => p.output_per_second,
            PriceKind::PerRequest => p.per_request,
            PriceKind::PerQuery => p.per_query,
        }
    }

    fn slot(self, p: &mut ModelPrice) -> &mut Option<UnitPrice> {
        match self {
            PriceKind::Input => &mut p.input,
            PriceKind::Output => &mut p.output,
            PriceKind::CacheRead => &mut p.cache_read,
            PriceKind::CacheWrite => &mut p.cache_write,
            PriceKind::Reasoning => &mut p.reasoning,
            PriceKind::InputPerImage => &mut p.input_per_image,
            PriceKind::OutputPerImage => &mut p.output_per_image,
            PriceKind::InputPerSecond => &mut p.input_per_second,
            PriceKind::OutputPerSecond => &mut p.output_per_second,
            PriceKind::PerRequest => &mut p.per_request,
            PriceKind::PerQuery => &mut p.per_query,
        }
    }

    /// The price as a person reads it: per 1M tokens for token prices, per
    /// unit otherwise; exact.
    pub fn shown(self, p: &ModelPrice) -> Option<UnitPrice> {
        self.get(p).map(|u| if self.is_per_token() { u.per_million() } else { u })
    }
}

/// Prices as typed into a form: token prices in USD per 1M tokens, the rest
/// in USD per unit; an empty field means "not priced".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PriceFields {
    pub input: String,
    pub output: String,
    pub cache_read: String,
    pub cache_write: String,
    pub reasoning: String,
    pub input_per_image: String,
    pub output_per_image: String,
    pub input_per_second: String,
    pub output_per_second: String,
    pub per_request: String,
    pub per_query: String,
}

impl PriceFields {
    /// The form's text for one price.
    pub fn text(&self, kind: PriceKind) -> &str {
        match kind {
            PriceKind::Input => &self.input,
            PriceKind::Output => &self.output,
            PriceKind::CacheRead => &self.cache_read,
            PriceKind::CacheWrite => &self.cache_write,
            PriceKind::Reasoning => &self.reasoning,
            PriceKind::InputPerImage => &self.input_per_image,
            PriceKind::OutputPerImage => &self.output_per_image,
            PriceKind::InputPerSecond => &self.input_per_second,
            PriceKind::OutputPerSecond => &self.output_per_second,
            PriceKind::PerRequest => &self.per_request,
            PriceKind::PerQuery => &self.per_query,
        }
    }

    fn text_mut(&mut self, kind: PriceKind) -> &mut String {
        match kind {
            PriceKind::Input => &mut self.input,
            PriceKind::Output => &mut self.output,
            PriceKind::CacheRead => &mut self.cache_read,
            PriceKind::CacheWrite => &mut self.cache_write,
            PriceKind::Reasoning => &mut self.reasoning,
            PriceKind::InputPerImage => &mut self.input_per_image,
            PriceKind::OutputPerImage => &mut self.output_per_image,
            PriceKind::InputPerSecond => &mut self.input_per_second,
            PriceKind::OutputPerSecond => &mut self.output_per_second,
            PriceKind::PerRequest => &mut self.per_request,
            PriceKind::PerQuery => &mut self.per_query,
        }
    }

    /// A form prefilled with a model's prices, exactly as stored.
    pub fn of(price: &ModelPrice) -> PriceFields {
        let mut fields = PriceFields::default();
        for kind in PriceKind::ALL {
            if let Some(p) = kind.shown(price) {
                *fields.text_mut(kind) = p.to_string();
            }
        }
        fields
    }

    /// Sets one field (builder style, for tests and callers outside forms).
    pub fn with(mut self, kind: PriceKind, text: impl Into<String>) -> PriceFields {
        *self.text_mut(kind) = text.into();
        self
    }
}

/// The editable prices, parsed: per unit (token prices per token), `None`
/// for "not priced". Only [`PriceEdit::parse`] makes one, so it never holds
/// a negative or inexact price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceEdit {
    prices: [Option<UnitPrice>; PriceKind::ALL.len()],
}

impl PriceEdit {
    /// Reads a form. Each field is empty (not priced) or a non-negative
    /// decimal (`2.5`, `0.075`, `$3`, `1e-3`); an error names the field.
    pub fn parse(fields: &PriceFields) -> Result<PriceEdit, Error> {
        let mut prices = [None; PriceKind::ALL.len()];
        for (i, kind) in PriceKind::ALL.into_iter().enumerate() {
            prices[i] = parse_price(kind, fields.text(kind))?;
        }
        if prices.iter().all(Option::is_none) {
            return Err(Error::invalid("prices", "set at least one price (an unpriced model would be charged nothing)"));
        }
        Ok(PriceEdit { prices })
    }

    /// The parsed price of one kind (per unit; per token for token prices).
    pub fn get(&self, kind: PriceKind) -> Option<UnitPrice> {
        self.prices[index(kind)]
    }

    /// `base` with the editable prices replaced by these. Everything else
    /// (tiers, batch and priority variants, capabilities) is kept. A price
    /// equal in value to the one in `base` keeps `base`'s own digits, so
    /// resending an unchanged form changes nothing (`2.50` is `2.5`).
    pub fn apply_to(&self, base: &ModelPrice) -> ModelPrice {
        let mut next = base.clone();
        for kind in PriceKind::ALL {
            let new = self.get(kind);
            let old = kind.get(base);
            let same = match (new, old) {
                (Some(a), Some(b)) => a.usd() == b.usd(),
                (None, None) => true,
                _ => false,
            };
            if !same {
                *kind.slot(&mut next) = new;
            }
        }
        next
    }
}

fn index(kind: PriceKind) -> usize {
    PriceKind::ALL.iter().position(|k| *k == kind).unwrap_or(0)
}

/// One field: empty → not priced; else an exact non-negative decimal.
fn parse_price(kind: PriceKind, text: &str) -> Result<Option<UnitPrice>, Error> {
    let field = kind.label();
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let digits = text.strip_prefix('$').unwrap_or(text).trim();
    let bad = || Error::invalid(field, format!("must be a non-negative decimal in {}, e.g. 2.5", kind.unit()));
    let value = parse_exact_decimal(digits).map_err(|_| bad())?;
    if value.is_sign_negative() && !value.is_zero() {
        return Err(bad());
    }
    let price = if kind.is_per_token() {
        UnitPrice::from_per_million(value).map_err(|e| match e {
            Error::Invalid { message, .. } => Error::invalid(field, message),
            other => other,
        })?
    } else {
        UnitPrice::new(value).map_err(|_| bad())?
    };
    Ok(Some(price))
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn per_million_shifts_the_point_exactly_both_ways() {
        let p = UnitPrice::parse("2.5e-06").unwrap();
        assert_eq!(p.per_million().to_string(), "2.5");
        assert_eq!(UnitPrice::from_per_million(dec("2.5")).unwrap(), p);
        let odd = UnitPrice::parse("0.0002833333333333333").unwrap();
        assert_eq!(odd.per_million().to_string(), "283.3333333333333");
        assert_eq!(UnitPrice::from_per_million(odd.per_million().usd()).unwrap().usd(), odd.usd());
        assert_eq!(UnitPrice::parse("15").unwrap().per_million().to_string(), "15000000");
        assert_eq!(UnitPrice::ZERO.per_million().to_string(), "0");
        // 22 decimal places per 1M is 28 per token: the most Decimal holds.
        assert!(UnitPrice::from_per_million(dec("0.0000000000000000000001")).is_ok());
        assert!(UnitPrice::from_per_million(dec("0.00000000000000000000001")).is_err());
    }

    #[test]
    fn a_form_is_read_per_million_tokens_and_per_unit() {
        let fields = PriceFields::default()
            .with(PriceKind::Input, "2.50")
            .with(PriceKind::Output, " $10 ")
            .with(PriceKind::OutputPerImage, "0.04");
        let edit = PriceEdit::parse(&fields).unwrap();
        assert_eq!(edit.get(PriceKind::Input).unwrap().usd(), dec("0.0000025"));
        assert_eq!(edit.get(PriceKind::Output).unwrap().usd(), dec("0.00001"));
        assert_eq!(edit.get(PriceKind::OutputPerImage).unwrap().usd(), dec("0.04"));
        assert_eq!(edit.get(PriceKind::CacheRead), None);
    }

    #[test]
    fn kinds_are_keyed_by_their_form_field() {
        for kind in PriceKind::ALL {
            let json = serde_json::to_value(PriceFields::default().with(kind, "1")).unwrap();
            assert_eq!(json[kind.key()], "1", "{kind:?}");
        }
    }

    #[test]
    fn bad_prices_name_their_field() {
        for (kind, text) in [(PriceKind::Input, "-1"), (PriceKind::Output, "ten"), (PriceKind::PerRequest, "1,5"), (PriceKind::CacheRead, "0x1")] {
            let err = PriceEdit::parse(&PriceFields::default().with(kind, text)).unwrap_err();
            assert_eq!(err.field(), Some(kind.label()), "{text}");
            assert!(err.to_string().contains("must be a non-negative decimal"), "{err}");
        }
        let err = PriceEdit::parse(&PriceFields::default().with(PriceKind::Input, "-2")).unwrap_err();
        assert_eq!(err.to_string(), "input price: must be a non-negative decimal in USD per 1M tokens, e.g. 2.5");
        assert_eq!(PriceEdit::parse(&PriceFields::default()).unwrap_err().field(), Some("prices"));
    }

    #[test]
    fn applying_a_form_keeps_every_other_field_and_the_stored_digits() {
        let mut base = ModelPrice::new("m", "p");
        base.input = Some(UnitPrice::parse("2.5e-06").unwrap());
        base.output = Some(UnitPrice::parse("1e-05").unwrap());
        base.tiers.push(crate::pricing::Tier::new(200_000));
        base.extra.insert("input_cost_per_token_batches".into(), dec("0.00000125"));
        let mut fields = PriceFields::of(&base);
        assert_eq!((fields.input.as_str(), fields.output.as_str()), ("2.5", "10"));
        // Resending the form unchanged changes nothing, even written differently.
        fields.input = "2.50".into();
        assert_eq!(PriceEdit::parse(&fields).unwrap().apply_to(&base), base);
        // Editing one price changes only that one.
        fields.input = "3".into();
        let next = PriceEdit::parse(&fields).unwrap().apply_to(&base);
        assert_eq!(next.input.unwrap().usd(), dec("0.000003"));
        assert_eq!((next.output, &next.tiers, &next.extra), (base.output, &base.tiers, &base.extra));
        // Clearing a field unprices that kind.
        fields.output.clear();
        assert_eq!(PriceEdit::parse(&fields).unwrap().apply_to(&base).output, None);
    }
}
