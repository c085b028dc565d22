//! The Swiss QR-bill: the payload of the Swiss QR Code (type `SPC`, version `0200`, coding 1)
//! after the Swiss Implementation Guidelines for the QR-bill (Swiss Payment Standards, v2.x),
//! and the code itself as SVG with the Swiss cross.
//!
//! Invariant: [`QrBill::payload`] and [`QrBill::to_svg`] only ever produce a payload that
//! passes every rule checked here: a CH/LI IBAN with a valid mod-97 checksum; a QR-IBAN (IID
//! 30000-31999) always with a QR reference (27 digits, mod-10-recursive check digit) and a
//! normal IBAN only with an ISO 11649 creditor reference (`SCOR`) or none (`NON`); structured
//! (type `S`) addresses within the field lengths; an amount of 0.01 to 999 999 999.99 written
//! with two decimals and a `.`; CHF or EUR; an unstructured message of at most 140 characters
//! (together with the bill information); only the Latin characters the standard permits; at
//! most 997 characters in all. The QR code uses error correction level M and byte mode
//! (so UTF-8 is never re-read as Kanji), at most version 25, and carries the 7 × 7 mm Swiss
//! cross in its centre on a 46 × 46 mm square.

use std::fmt::Write as _;

use qrcode::{EcLevel, QrCode, Version, bits::Bits};

/// The currencies a QR-bill can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Currency {
    /// Swiss francs.
    #[default]
    Chf,
    /// Euros.
    Eur,
}

impl Currency {
    /// The ISO 4217 code written in the payload.
    pub fn code(self) -> &'static str {
        match self {
            Currency::Chf => "CHF",
            Currency::Eur => "EUR",
        }
    }
}

/// The line separator between payload elements (the standard allows both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LineEnding {
    /// Carriage return and line feed.
    #[default]
    CrLf,
    /// Line feed alone.
    Lf,
}

impl LineEnding {
    fn as_str(self) -> &'static str {
        match self {
            LineEnding::CrLf => "\r\n",
            LineEnding::Lf => "\n",
        }
    }
}

/// A structured address (address type `S`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Address {
    /// Name or company, at most 70 characters (required).
    pub name: String,
    /// Street or P.O. box, at most 70 characters.
    pub street: Option<String>,
    /// House number, at most 16 characters.
    pub house_number: Option<String>,
    /// Postcode without country prefix, at most 16 characters (required).
    pub postcode: String,
    /// Town, at most 35 characters (required).
    pub town: String,
    /// Two-letter ISO 3166-1 country code (required).
    pub country: String,
}

/// The payment reference.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Reference {
    /// A QR reference: 27 digits, the last a mod-10-recursive check digit. Only with a
    /// QR-IBAN.
    Qrr(String),
    /// An ISO 11649 creditor reference (`RF` + 2 check digits + up to 21 characters). Only
    /// with a normal IBAN.
    Scor(String),
    /// No reference. Only with a normal IBAN.
    #[default]
    None,
}

/// The data of one QR-bill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrBill {
    /// The creditor's IBAN or QR-IBAN (CH or LI; spaces allowed, they are removed).
    pub iban: String,
    /// The creditor: who is paid.
    pub creditor: Address,
    /// The amount in hundredths (Rappen or cents); `None` leaves it to the payer.
    pub amount: Option<i64>,
    /// CHF or EUR.
    pub currency: Currency,
    /// The ultimate debtor: who pays, if known.
    pub debtor: Option<Address>,
    /// The payment reference.
    pub reference: Reference,
    /// An unstructured message for the payer, e.g. "Booking 1234".
    pub message: Option<String>,
    /// Structured bill information (e.g. Swico `//S1/...`); with `message` at most 140
    /// characters.
    pub bill_information: Option<String>,
    /// The separator between payload lines.
    pub line_ending: LineEnding,
}

/// Why a QR-bill cannot be made. `code()` gives a stable name for each.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QrBillError {
    /// The IBAN's structure or checksum is wrong.
    #[error("the IBAN is not valid")]
    InvalidIban,
    /// The IBAN is not from Switzerland or Liechtenstein.
    #[error("a QR-bill needs a CH or LI IBAN")]
    IbanCountry,
    /// A QR-IBAN was given with a reference other than a QR reference.
    #[error("a QR-IBAN needs a QR reference (QRR)")]
    QrIbanRequiresQrr,
    /// A QR reference was given with a normal IBAN.
    #[error("a QR reference needs a QR-IBAN")]
    QrrRequiresQrIban,
    /// The QR reference is not 27 digits with a valid check digit.
    #[error("the QR reference is not valid")]
    InvalidQrReference,
    /// The creditor reference is not a valid ISO 11649 reference.
    #[error("the creditor reference is not valid")]
    InvalidCreditorReference,
    /// A required field is empty.
    #[error("`{field}` is required")]
    FieldMissing {
        /// The field.
        field: &'static str,
    },
    /// A field is longer than allowed.
    #[error("`{field}` is longer than {max} characters")]
    FieldTooLong {
        /// The field.
        field: &'static str,
        /// The largest length.
        max: usize,
    },
    /// A field has a character the standard does not permit (or a line break).
    #[error("`{field}` contains a character the QR-bill does not permit")]
    InvalidCharacter {
        /// The field.
        field: &'static str,
    },
    /// A country code is not two capital letters.
    #[error("`{field}` must be a two-letter ISO country code")]
    InvalidCountry {
        /// The field.
        field: &'static str,
    },
    /// The amount is outside 0.01 to 999 999 999.99.
    #[error("the amount must be 0.01 to 999999999.99")]
    AmountOutOfRange,
    /// The payload is longer than 997 characters.
    #[error("the payload has {len} characters, more than 997")]
    PayloadTooLong {
        /// Its length.
        len: usize,
    },
    /// The QR code could not be made within version 25.
    #[error("the payload does not fit a QR code of version 25 at level M")]
    QrCodeTooLarge,
}

impl QrBillError {
    /// A stable, machine-readable code for API error envelopes.
    pub fn code(&self) -> &'static str {
        match self {
            QrBillError::InvalidIban => "invalid_iban",
            QrBillError::IbanCountry => "iban_country",
            QrBillError::QrIbanRequiresQrr => "qr_iban_requires_qrr",
            QrBillError::QrrRequiresQrIban => "qrr_requires_qr_iban",
            QrBillError::InvalidQrReference => "invalid_qr_reference",
            QrBillError::InvalidCreditorReference => "invalid_creditor_reference",
            QrBillError::FieldMissing { .. } => "field_missing",
            QrBillError::FieldTooLong { .. } => "field_too_long",
            QrBillError::InvalidCharacter { .. } => "invalid_character",
            QrBillError::InvalidCountry { .. } => "invalid_country",
            QrBillError::AmountOutOfRange => "amount_out_of_range",
            QrBillError::PayloadTooLong { .. } => "payload_too_long",
            QrBillError::QrCodeTooLarge => "qr_code_too_large",
        }
    }
}

/// The most characters a payload may have.
pub const MAX_PAYLOAD_CHARS: usize = 997;
/// The largest amount, in hundredths.
pub const MAX_AMOUNT: i64 = 99_999_999_999;
/// The highest QR code version the standard allows.
pub const MAX_QR_VERSION: i16 = 25;
/// The printed size of the QR code, in millimetres.
pub const QR_SIZE_MM: f64 = 46.0;
/// The printed size of the Swiss cross, in millimetres.
pub const CROSS_SIZE_MM: f64 = 7.0;

fn normalise(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).flat_map(char::to_uppercase).collect()
}

/// `s` read as a number in which letters count A = 10 … Z = 35, modulo 97; `None` when `s`
/// has other characters than ASCII letters and digits.
fn mod97(s: &str) -> Option<u32> {
    let mut rem: u32 = 0;
    for c in s.chars() {
        let v = c.to_digit(36)?;
        rem = if v < 10 { (rem * 10 + v) % 97 } else { (rem * 100 + v) % 97 };
    }
    Some(rem)
}

/// Whether `iban` is a well-formed IBAN with a valid mod-97 checksum (spaces are ignored,
/// letters may be lower case). Swiss and Liechtenstein IBANs must have 21 characters with a
/// numeric 5-digit institution id.
pub fn iban_is_valid(iban: &str) -> bool {
    let iban = normalise(iban);
    let b = iban.as_bytes();
    if !(15..=34).contains(&b.len())
        || !b[..2].iter().all(u8::is_ascii_uppercase)
        || !b[2..4].iter().all(u8::is_ascii_digit)
        || !b[4..].iter().all(u8::is_ascii_alphanumeric)
    {
        return false;
    }
    if matches!(&iban[..2], "CH" | "LI") && (b.len() != 21 || !b[4..9].iter().all(u8::is_ascii_digit)) {
        return false;
    }
    let rearranged = format!("{}{}", &iban[4..], &iban[..4]);
    mod97(&rearranged) == Some(1)
}

/// Whether `iban` is a valid CH/LI QR-IBAN: its institution id (positions 5-9) lies in
/// 30000-31999.
pub fn is_qr_iban(iban: &str) -> bool {
    let iban = normalise(iban);
    iban_is_valid(&iban) && matches!(&iban[..2], "CH" | "LI") && iban[4..9].parse::<u32>().is_ok_and(|iid| (30_000..=31_999).contains(&iid))
}

/// The mod-10-recursive check digit of a string of digits (as used for the QR reference);
/// `None` if `digits` is empty or has anything but ASCII digits.
pub fn qrr_check_digit(digits: &str) -> Option<u8> {
    const TABLE: [u8; 10] = [0, 9, 4, 6, 8, 2, 7, 1, 3, 5];
    if digits.is_empty() {
        return None;
    }
    let mut carry: u8 = 0;
    for c in digits.chars() {
        let d = u8::try_from(c.to_digit(10)?).ok()?;
        carry = TABLE[usize::from((carry + d) % 10)];
    }
    Some((10 - carry) % 10)
}

/// Whether `reference` is a valid QR reference: 27 digits (spaces ignored), not all zero,
/// the last the check digit of the others.
pub fn qrr_is_valid(reference: &str) -> bool {
    let r = normalise(reference);
    r.len() == 27
        && r.bytes().all(|b| b.is_ascii_digit())
        && r.bytes().any(|b| b != b'0')
        && qrr_check_digit(&r[..26]).map(|d| char::from(b'0' + d)) == r.chars().last()
}

/// A QR reference from up to 26 digits (spaces ignored): left-padded with zeros to 26 digits
/// and completed with its check digit.
pub fn qrr_reference(base: &str) -> Result<String, QrBillError> {
    let base = normalise(base);
    if base.is_empty() || base.len() > 26 || !base.bytes().all(|b| b.is_ascii_digit()) || base.bytes().all(|b| b == b'0') {
        return Err(QrBillError::InvalidQrReference);
    }
    let padded = format!("{base:0>26}");
    let check = qrr_check_digit(&padded).ok_or(QrBillError::InvalidQrReference)?;
    Ok(format!("{padded}{check}"))
}

/// Whether `reference` is a valid ISO 11649 creditor reference: `RF`, two check digits and 1
/// to 21 letters or digits (spaces ignored, case-insensitive), with mod 97 = 1.
pub fn scor_is_valid(reference: &str) -> bool {
    let r = normalise(reference);
    let b = r.as_bytes();
    (5..=25).contains(&b.len())
        && r.starts_with("RF")
        && b[2..4].iter().all(u8::is_ascii_digit)
        && b[4..].iter().all(u8::is_ascii_alphanumeric)
        && mod97(&format!("{}{}", &r[4..], &r[..4])) == Some(1)
}

/// The ISO 11649 creditor reference for `base` (1 to 21 letters or digits; spaces ignored,
/// letters upper-cased): `RF` + two check digits + `base`.
pub fn scor_reference(base: &str) -> Result<String, QrBillError> {
    let base = normalise(base);
    if base.is_empty() || base.len() > 21 || !base.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(QrBillError::InvalidCreditorReference);
    }
    let rem = mod97(&format!("{base}RF00")).ok_or(QrBillError::InvalidCreditorReference)?;
    Ok(format!("RF{:02}{base}", 98 - rem))
}

/// Whether a character is in the Latin set the QR-bill permits.
fn permitted(c: char) -> bool {
    matches!(c,
        '\u{20}'..='\u{7E}'
        | '\u{A0}'..='\u{FF}'
        | '\u{100}'..='\u{17F}'
        | '\u{218}'..='\u{21B}'
        | '\u{20AC}')
}

fn check_text(field: &'static str, value: &str, max: usize, required: bool) -> Result<(), QrBillError> {
    if required && value.trim().is_empty() {
        return Err(QrBillError::FieldMissing { field });
    }
    if value.chars().count() > max {
        return Err(QrBillError::FieldTooLong { field, max });
    }
    if !value.chars().all(permitted) {
        return Err(QrBillError::InvalidCharacter { field });
    }
    Ok(())
}

/// Field names for error messages, per address role.
struct AddressFields {
    name: &'static str,
    street: &'static str,
    house_number: &'static str,
    postcode: &'static str,
    town: &'static str,
    country: &'static str,
}

const CREDITOR: AddressFields = AddressFields {
    name: "creditor.name",
    street: "creditor.street",
    house_number: "creditor.house_number",
    postcode: "creditor.postcode",
    town: "creditor.town",
    country: "creditor.country",
};

const DEBTOR: AddressFields = AddressFields {
    name: "debtor.name",
    street: "debtor.street",
    house_number: "debtor.house_number",
    postcode: "debtor.postcode",
    town: "debtor.town",
    country: "debtor.country",
};

impl Address {
    fn check(&self, f: &AddressFields) -> Result<(), QrBillError> {
        check_text(f.name, &self.name, 70, true)?;
        check_text(f.street, self.street.as_deref().unwrap_or(""), 70, false)?;
        check_text(f.house_number, self.house_number.as_deref().unwrap_or(""), 16, false)?;
        check_text(f.postcode, &self.postcode, 16, true)?;
        check_text(f.town, &self.town, 35, true)?;
        let c = self.country.as_bytes();
        if c.len() != 2 || !c.iter().all(u8::is_ascii_uppercase) {
            return Err(QrBillError::InvalidCountry { field: f.country });
        }
        Ok(())
    }

    /// The seven address elements: `S`, name, street, house number, postcode, town, country.
    fn elements(&self) -> [&str; 7] {
        [
            "S",
            &self.name,
            self.street.as_deref().unwrap_or(""),
            self.house_number.as_deref().unwrap_or(""),
            &self.postcode,
            &self.town,
            &self.country,
        ]
    }
}

/// Formats hundredths as the payload amount: at least one integer digit, `.`, two decimals.
fn format_amount(hundredths: i64) -> String {
    format!("{}.{:02}", hundredths / 100, hundredths % 100)
}

impl QrBill {
    /// Checks every rule and returns the IBAN without spaces, in capitals.
    fn validate(&self) -> Result<String, QrBillError> {
        let iban = normalise(&self.iban);
        if !iban_is_valid(&iban) {
            return Err(QrBillError::InvalidIban);
        }
        if !matches!(&iban[..2], "CH" | "LI") {
            return Err(QrBillError::IbanCountry);
        }
        let qr_iban = is_qr_iban(&iban);
        match &self.reference {
            Reference::Qrr(r) => {
                if !qr_iban {
                    return Err(QrBillError::QrrRequiresQrIban);
                }
                if !qrr_is_valid(r) {
                    return Err(QrBillError::InvalidQrReference);
                }
            }
            Reference::Scor(r) => {
                if qr_iban {
                    return Err(QrBillError::QrIbanRequiresQrr);
                }
                if !scor_is_valid(r) {
                    return Err(QrBillError::InvalidCreditorReference);
                }
            }
            Reference::None => {
                if qr_iban {
                    return Err(QrBillError::QrIbanRequiresQrr);
                }
            }
        }
        self.creditor.check(&CREDITOR)?;
        if let Some(d) = &self.debtor {
            d.check(&DEBTOR)?;
        }
        if let Some(a) = self.amount
            && !(1..=MAX_AMOUNT).contains(&a)
        {
            return Err(QrBillError::AmountOutOfRange);
        }
        let message = self.message.as_deref().unwrap_or("");
        let info = self.bill_information.as_deref().unwrap_or("");
        check_text("message", message, 140, false)?;
        check_text("bill_information", info, 140, false)?;
        if message.chars().count() + info.chars().count() > 140 {
            return Err(QrBillError::FieldTooLong { field: "message+bill_information", max: 140 });
        }
        Ok(iban)
    }

    /// The Swiss QR Code payload: the elements in the order of the standard, one a line,
    /// without a separator after the last (the trailer `EPD`, or the bill information when
    /// there is any).
    pub fn payload(&self) -> Result<String, QrBillError> {
        let iban = self.validate()?;
        let amount = self.amount.map(format_amount).unwrap_or_default();
        let (ref_type, reference) = match &self.reference {
            Reference::Qrr(r) => ("QRR", normalise(r)),
            Reference::Scor(r) => ("SCOR", normalise(r)),
            Reference::None => ("NON", String::new()),
        };
        let debtor = self.debtor.as_ref().map(Address::elements).unwrap_or([""; 7]);
        let mut elements: Vec<&str> = vec!["SPC", "0200", "1", &iban];
        elements.extend(self.creditor.elements());
        elements.extend([""; 7]); // ultimate creditor: reserved, must stay empty
        elements.extend([amount.as_str(), self.currency.code()]);
        elements.extend(debtor);
        elements.extend([ref_type, reference.as_str()]);
        elements.extend([self.message.as_deref().unwrap_or(""), "EPD"]);
        if let Some(info) = self.bill_information.as_deref().filter(|s| !s.is_empty()) {
            elements.push(info);
        }
        let payload = elements.join(self.line_ending.as_str());
        let len = payload.chars().count();
        if len > MAX_PAYLOAD_CHARS {
            return Err(QrBillError::PayloadTooLong { len });
        }
        Ok(payload)
    }

    /// The QR code's modules, row by row (`true` = dark), and its width in modules: error
    /// correction level M, byte mode, the smallest version that fits (at most 25).
    pub fn modules(&self) -> Result<(usize, Vec<bool>), QrBillError> {
        let payload = self.payload()?;
        let code = encode(payload.as_bytes())?;
        let dark = code.to_colors().into_iter().map(|c| c == qrcode::Color::Dark).collect();
        Ok((code.width(), dark))
    }

    /// The Swiss QR Code as an SVG image of 46 × 46 mm (without quiet zone: place it with the
    /// 5 mm margin of the payment part), with the 7 × 7 mm Swiss cross drawn in its centre.
    pub fn to_svg(&self) -> Result<String, QrBillError> {
        let (width, modules) = self.modules()?;
        Ok(render_svg(width, &modules))
    }
}

/// Encodes `data` in byte mode at level M in the smallest version up to 25.
fn encode(data: &[u8]) -> Result<QrCode, QrBillError> {
    for v in 1..=MAX_QR_VERSION {
        let mut bits = Bits::new(Version::Normal(v));
        if bits.push_byte_data(data).is_err() || bits.push_terminator(EcLevel::M).is_err() {
            continue;
        }
        return QrCode::with_bits(bits, EcLevel::M).map_err(|_| QrBillError::QrCodeTooLarge);
    }
    Err(QrBillError::QrCodeTooLarge)
}

/// Formats a length in millimetres with at most four decimals, without trailing zeros.
fn mm(v: f64) -> String {
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".to_owned() } else { s.to_owned() }
}

/// The Swiss cross, in millimetres from its top-left corner: a 7 mm white square, a 6 mm
/// black square inside it and a white cross of two 1.17 × 3.89 mm bars (proportions of the
/// cross on the Swiss flag).
fn swiss_cross_svg(x: f64, y: f64) -> String {
    let c = CROSS_SIZE_MM / 2.0;
    let (bar_w, bar_l) = (1.17, 3.89);
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<g id="swiss-cross"><rect x="{}" y="{}" width="7" height="7" fill="#fff"/><rect x="{}" y="{}" width="6" height="6" fill="#000"/>"##,
        mm(x),
        mm(y),
        mm(x + 0.5),
        mm(y + 0.5),
    );
    let _ = write!(
        s,
        r##"<rect x="{}" y="{}" width="{}" height="{}" fill="#fff"/><rect x="{}" y="{}" width="{}" height="{}" fill="#fff"/></g>"##,
        mm(x + c - bar_w / 2.0),
        mm(y + c - bar_l / 2.0),
        mm(bar_w),
        mm(bar_l),
        mm(x + c - bar_l / 2.0),
        mm(y + c - bar_w / 2.0),
        mm(bar_l),
        mm(bar_w),
    );
    s
}

/// Renders modules as a 46 × 46 mm SVG in millimetre user units, dark runs of each row
/// merged into one path, with the Swiss cross on top.
fn render_svg(width: usize, modules: &[bool]) -> String {
    let mut path = String::new();
    for (y, row) in modules.chunks(width.max(1)).enumerate() {
        let mut x = 0;
        while x < row.len() {
            if row[x] {
                let start = x;
                while x < row.len() && row[x] {
                    x += 1;
                }
                let _ = write!(path, "M{start} {y}h{}v1h-{}z", x - start, x - start);
            } else {
                x += 1;
            }
        }
    }
    let scale = QR_SIZE_MM / width.max(1) as f64;
    let offset = (QR_SIZE_MM - CROSS_SIZE_MM) / 2.0;
    format!(
        concat!(
            r##"<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="46mm" height="46mm" viewBox="0 0 46 46">"##,
            r##"<rect width="46" height="46" fill="#fff"/>"##,
            r##"<path transform="scale({})" fill="#000" shape-rendering="crispEdges" d="{}"/>"##,
            "{}</svg>"
        ),
        mm(scale),
        path,
        swiss_cross_svg(offset, offset),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const QR_IBAN: &str = "CH4431999123000889012";
    const IBAN: &str = "CH5800791123000889012";
    const QRR: &str = "210000000003139471430009017";

    fn creditor() -> Address {
        Address {
            name: "Max Muster & Söhne".into(),
            street: Some("Musterstrasse".into()),
            house_number: Some("123".into()),
            postcode: "8000".into(),
            town: "Seldwyla".into(),
            country: "CH".into(),
        }
    }

    fn debtor() -> Address {
        Address {
            name: "Simon Muster".into(),
            street: Some("Musterstrasse".into()),
            house_number: Some("1".into()),
            postcode: "8000".into(),
            town: "Seldwyla".into(),
            country: "CH".into(),
        }
    }

    fn qrr_bill() -> QrBill {
        QrBill {
            iban: QR_IBAN.into(),
            creditor: creditor(),
            amount: Some(194_975),
            currency: Currency::Chf,
            debtor: Some(debtor()),
            reference: Reference::Qrr(QRR.into()),
            message: Some("Order from 15.10.2020".into()),
            bill_information: Some("//S1/10/1234/11/201021/30/102673386/32/7.7/40/0:30".into()),
            line_ending: LineEnding::Lf,
        }
    }

    fn code(r: Result<String, QrBillError>) -> &'static str {
        r.map(|_| "ok").unwrap_or_else(|e| e.code())
    }

    #[test]
    fn the_example_ibans_are_valid_and_told_apart() {
        assert!(iban_is_valid(QR_IBAN));
        assert!(iban_is_valid(IBAN));
        assert!(iban_is_valid("CH58 0079 1123 0008 8901 2"));
        assert!(iban_is_valid("ch5800791123000889012"));
        assert!(iban_is_valid("DE89370400440532013000"));
        assert!(is_qr_iban(QR_IBAN));
        assert!(!is_qr_iban(IBAN));
        assert!(!iban_is_valid("CH5800791123000889013"), "bad checksum");
        assert!(!iban_is_valid("CH5900791123000889012"), "bad check digits");
        assert!(!iban_is_valid("CH580079112300088901"), "too short");
        assert!(!iban_is_valid("CH58A0791123000889012"), "letter in a Swiss institution id");
        assert!(!iban_is_valid(""));
        assert!(!iban_is_valid("CH58-0079"));
    }

    #[test]
    fn the_qr_reference_check_digit_is_mod_10_recursive() {
        assert_eq!(qrr_check_digit("21000000000313947143000901"), Some(7));
        assert!(qrr_is_valid(QRR));
        assert!(qrr_is_valid("21 00000 00003 13947 14300 09017"));
        assert!(!qrr_is_valid("210000000003139471430009018"));
        assert!(!qrr_is_valid("000000000000000000000000000"));
        assert!(!qrr_is_valid("21000000000313947143000901"));
        assert_eq!(qrr_check_digit(""), None);
        assert_eq!(qrr_check_digit("12a"), None);
        assert_eq!(qrr_reference("21000000000313947143000901").as_deref(), Ok(QRR));
        assert_eq!(qrr_reference("1234").as_deref(), Ok("000000000000000000000012347"));
        assert!(qrr_is_valid("000000000000000000000012347"));
        assert_eq!(code(qrr_reference("")), "invalid_qr_reference");
    }

    #[test]
    fn creditor_references_follow_iso_11649() {
        assert!(scor_is_valid("RF18539007547034"));
        assert!(scor_is_valid("RF18 5390 0754 7034"));
        assert!(scor_is_valid("rf24 0191 2301 0040 5jsh 0438"));
        // A check-digit error seen in third-party copies of the standard's example.
        assert!(!scor_is_valid("RF720191230100405JSH0438"));
        assert!(!scor_is_valid("RF19539007547034"));
        assert!(!scor_is_valid("RF18"));
        assert_eq!(scor_reference("539007547034").as_deref(), Ok("RF18539007547034"));
        assert_eq!(scor_reference("0191230100405jsh0438").as_deref(), Ok("RF240191230100405JSH0438"));
        // Check digits below 10 are written with a leading zero.
        for base in ["A", "1", "QUARTIER", "123456789012345678901"] {
            let r = scor_reference(base).expect("valid base");
            assert!(scor_is_valid(&r), "{r}");
        }
        assert_eq!(code(scor_reference("")), "invalid_creditor_reference");
        assert_eq!(code(scor_reference("1234567890123456789012")), "invalid_creditor_reference");
        assert_eq!(code(scor_reference("AB-12")), "invalid_creditor_reference");
    }

    #[test]
    fn the_qrr_example_payload_matches_the_standard_field_by_field() {
        let p = qrr_bill().payload().expect("valid");
        let lines: Vec<&str> = p.split('\n').collect();
        let expected = [
            "SPC",
            "0200",
            "1",
            QR_IBAN,
            "S",
            "Max Muster & Söhne",
            "Musterstrasse",
            "123",
            "8000",
            "Seldwyla",
            "CH",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "1949.75",
            "CHF",
            "S",
            "Simon Muster",
            "Musterstrasse",
            "1",
            "8000",
            "Seldwyla",
            "CH",
            "QRR",
            QRR,
            "Order from 15.10.2020",
            "EPD",
            "//S1/10/1234/11/201021/30/102673386/32/7.7/40/0:30",
        ];
        assert_eq!(lines, expected);
        assert!(!p.ends_with('\n'));
        assert!(!p.contains('\r'));
    }

    #[test]
    fn the_scor_example_payload_matches_the_standard() {
        let bill = QrBill {
            iban: IBAN.into(),
            creditor: Address {
                name: "Muster Krankenkasse".into(),
                street: Some("Musterstrasse".into()),
                house_number: Some("12".into()),
                ..creditor()
            },
            amount: Some(21_100),
            currency: Currency::Chf,
            debtor: Some(Address { name: "Sarah Beispiel".into(), ..debtor() }),
            reference: Reference::Scor("RF18 5390 0754 7034".into()),
            message: None,
            bill_information: None,
            line_ending: LineEnding::CrLf,
        };
        let p = bill.payload().expect("valid");
        let lines: Vec<&str> = p.split("\r\n").collect();
        assert_eq!(lines.len(), 31);
        assert_eq!(lines[3], IBAN);
        assert_eq!(lines[18], "211.00");
        assert_eq!(lines[27], "SCOR");
        assert_eq!(lines[28], "RF18539007547034");
        assert_eq!(lines[29], "");
        assert_eq!(lines[30], "EPD");
        assert!(p.ends_with("\r\nEPD"));
    }

    #[test]
    fn an_open_donation_has_empty_amount_and_debtor() {
        let bill = QrBill {
            iban: IBAN.into(),
            creditor: Address { street: None, house_number: None, ..creditor() },
            amount: None,
            currency: Currency::Eur,
            debtor: None,
            reference: Reference::None,
            message: None,
            bill_information: None,
            line_ending: LineEnding::Lf,
        };
        let p = bill.payload().expect("valid");
        let lines: Vec<&str> = p.split('\n').collect();
        assert_eq!(lines.len(), 31);
        assert_eq!((lines[6], lines[7]), ("", ""));
        assert_eq!((lines[18], lines[19]), ("", "EUR"));
        assert!(lines[20..27].iter().all(|l| l.is_empty()));
        assert_eq!((lines[27], lines[28]), ("NON", ""));
    }

    #[test]
    fn trailing_empty_elements_are_kept_up_to_the_trailer() {
        let foundation = Address {
            name: "Muster Stiftung".into(),
            street: None,
            house_number: None,
            postcode: "3001".into(),
            town: "Bern".into(),
            country: "CH".into(),
        };
        let open = QrBill {
            iban: IBAN.into(),
            creditor: foundation.clone(),
            amount: None,
            currency: Currency::Eur,
            debtor: None,
            reference: Reference::None,
            message: None,
            bill_information: None,
            line_ending: LineEnding::CrLf,
        };
        assert_eq!(
            open.payload().as_deref(),
            Ok(concat!(
                "SPC\r\n0200\r\n1\r\nCH5800791123000889012\r\nS\r\nMuster Stiftung\r\n\r\n\r\n",
                "3001\r\nBern\r\nCH\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nEUR\r\n",
                "\r\n\r\n\r\n\r\n\r\n\r\n\r\nNON\r\n\r\n\r\nEPD"
            ))
        );
        let with_info = QrBill {
            amount: Some(10),
            currency: Currency::Chf,
            reference: Reference::Scor("RF18539007547034".into()),
            message: Some("x".into()),
            bill_information: Some("//S1/10/1".into()),
            ..open
        };
        assert_eq!(
            with_info.payload().as_deref(),
            Ok(concat!(
                "SPC\r\n0200\r\n1\r\nCH5800791123000889012\r\nS\r\nMuster Stiftung\r\n\r\n\r\n",
                "3001\r\nBern\r\nCH\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n0.10\r\nCHF\r\n",
                "\r\n\r\n\r\n\r\n\r\n\r\n\r\nSCOR\r\nRF18539007547034\r\nx\r\nEPD\r\n//S1/10/1"
            ))
        );
    }

    #[test]
    fn iban_and_reference_must_go_together() {
        let mut b = qrr_bill();
        b.reference = Reference::None;
        assert_eq!(code(b.payload()), "qr_iban_requires_qrr");
        b.reference = Reference::Scor("RF18539007547034".into());
        assert_eq!(code(b.payload()), "qr_iban_requires_qrr");
        let mut b = qrr_bill();
        b.iban = IBAN.into();
        assert_eq!(code(b.payload()), "qrr_requires_qr_iban");
        let mut b = qrr_bill();
        b.reference = Reference::Qrr("210000000003139471430009018".into());
        assert_eq!(code(b.payload()), "invalid_qr_reference");
        let mut b = qrr_bill();
        b.iban = IBAN.into();
        b.reference = Reference::Scor("RF19539007547034".into());
        assert_eq!(code(b.payload()), "invalid_creditor_reference");
    }

    #[test]
    fn bad_ibans_are_refused() {
        let mut b = qrr_bill();
        b.iban = "CH4431999123000889013".into();
        assert_eq!(code(b.payload()), "invalid_iban");
        b.iban = "DE89370400440532013000".into();
        assert_eq!(code(b.payload()), "iban_country");
        b.iban = "LI21 0881 0000 2324 013A A".into();
        b.reference = Reference::None;
        assert_eq!(code(b.payload()), "ok");
    }

    #[test]
    fn field_lengths_are_enforced() {
        type Change = fn(&mut QrBill);
        let cases: [(Change, &str); 8] = [
            (|b| b.creditor.name = "x".repeat(71), "creditor.name"),
            (|b| b.creditor.street = Some("x".repeat(71)), "creditor.street"),
            (|b| b.creditor.house_number = Some("1".repeat(17)), "creditor.house_number"),
            (|b| b.creditor.postcode = "1".repeat(17), "creditor.postcode"),
            (|b| b.creditor.town = "x".repeat(36), "creditor.town"),
            (
                |b| {
                    if let Some(d) = b.debtor.as_mut() {
                        d.name = "ü".repeat(71);
                    }
                },
                "debtor.name",
            ),
            (|b| b.message = Some("x".repeat(141)), "message"),
            (|b| b.message = Some("x".repeat(100)), "message+bill_information"),
        ];
        for (change, field) in cases {
            let mut b = qrr_bill();
            change(&mut b);
            match b.payload() {
                Err(QrBillError::FieldTooLong { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
        // Exactly at the limits is fine (counted in characters, not bytes).
        let mut b = qrr_bill();
        b.creditor.name = "ö".repeat(70);
        b.creditor.town = "x".repeat(35);
        b.bill_information = None;
        b.message = Some("x".repeat(140));
        assert_eq!(code(b.payload()), "ok");
    }

    #[test]
    fn required_fields_countries_and_characters_are_checked() {
        let mut b = qrr_bill();
        b.creditor.name = " ".into();
        assert_eq!(code(b.payload()), "field_missing");
        let mut b = qrr_bill();
        b.creditor.town = String::new();
        assert_eq!(code(b.payload()), "field_missing");
        let mut b = qrr_bill();
        b.creditor.country = "Schweiz".into();
        assert_eq!(code(b.payload()), "invalid_country");
        let mut b = qrr_bill();
        b.creditor.country = "ch".into();
        assert_eq!(code(b.payload()), "invalid_country");
        let mut b = qrr_bill();
        b.message = Some("two\nlines".into());
        assert_eq!(code(b.payload()), "invalid_character");
        let mut b = qrr_bill();
        b.creditor.name = "Quartier 😀".into();
        assert_eq!(code(b.payload()), "invalid_character");
        let mut b = qrr_bill();
        b.creditor.name = "Ștefan Țară €".into();
        assert_eq!(code(b.payload()), "ok");
    }

    #[test]
    fn amounts_are_written_with_two_decimals_within_range() {
        let mut b = qrr_bill();
        for (hundredths, written) in [(1, "0.01"), (10, "0.10"), (150, "1.50"), (159_000, "1590.00"), (MAX_AMOUNT, "999999999.99")] {
            b.amount = Some(hundredths);
            let p = b.payload().expect("valid");
            assert_eq!(p.split('\n').nth(18), Some(written));
        }
        for bad in [0, -1, MAX_AMOUNT + 1] {
            b.amount = Some(bad);
            assert_eq!(code(b.payload()), "amount_out_of_range", "{bad}");
        }
    }

    #[test]
    fn the_payload_is_at_most_997_characters() {
        let mut b = qrr_bill();
        b.creditor.street = Some("s".repeat(70));
        b.creditor.name = "n".repeat(70);
        b.creditor.house_number = Some("1".repeat(16));
        b.creditor.postcode = "2".repeat(16);
        b.creditor.town = "t".repeat(35);
        b.debtor = Some(b.creditor.clone());
        b.message = Some("m".repeat(70));
        b.bill_information = Some("i".repeat(70));
        b.line_ending = LineEnding::CrLf;
        let p = b.payload().expect("every field at its maximum still fits");
        assert!(p.chars().count() <= MAX_PAYLOAD_CHARS, "{}", p.len());
    }

    /// Rasterises modules (plus the cross) and reads them back with an independent decoder.
    fn decode(bill: &QrBill) -> String {
        let (width, modules) = bill.modules().expect("encodes");
        let px = 8usize; // pixels per module
        let quiet = 4 * px;
        let size = width * px + 2 * quiet;
        // The cross, in module units, as drawn in the SVG.
        let per_mm = width as f64 / QR_SIZE_MM;
        let lo = (QR_SIZE_MM - CROSS_SIZE_MM) / 2.0 * per_mm;
        let hi = lo + CROSS_SIZE_MM * per_mm;
        let c = QR_SIZE_MM / 2.0 * per_mm;
        let in_box = |x: f64, y: f64, x0: f64, y0: f64, x1: f64, y1: f64| x >= x0 && x < x1 && y >= y0 && y < y1;
        let mut img = rqrr::PreparedImage::prepare_from_bitmap(size, size, |x, y| {
            if x < quiet || y < quiet || x >= size - quiet || y >= size - quiet {
                return false;
            }
            let mx = (x - quiet) as f64 / px as f64;
            let my = (y - quiet) as f64 / px as f64;
            if in_box(mx, my, lo, lo, hi, hi) {
                let (w, l) = (1.17 / 2.0 * per_mm, 3.89 / 2.0 * per_mm);
                let m = 0.5 * per_mm;
                let white = !in_box(mx, my, lo + m, lo + m, hi - m, hi - m)
                    || in_box(mx, my, c - w, c - l, c + w, c + l)
                    || in_box(mx, my, c - l, c - w, c + l, c + w);
                return !white;
            }
            modules[((y - quiet) / px) * width + (x - quiet) / px]
        });
        let grids = img.detect_grids();
        assert_eq!(grids.len(), 1);
        let (_, text) = grids[0].decode().expect("decodes");
        text
    }

    #[test]
    fn the_qr_code_with_its_cross_reads_back_as_the_payload() {
        let b = qrr_bill();
        assert_eq!(decode(&b), b.payload().expect("valid"));
        let mut long = qrr_bill();
        long.creditor.street = Some("Ș".repeat(70));
        long.debtor = Some(long.creditor.clone());
        assert_eq!(decode(&long), long.payload().expect("valid"));
    }

    #[test]
    fn the_svg_is_46_mm_with_the_swiss_cross_centred() {
        let svg = qrr_bill().to_svg().expect("renders");
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.contains("width=\"46mm\" height=\"46mm\" viewBox=\"0 0 46 46\""));
        assert!(svg.contains("<g id=\"swiss-cross\"><rect x=\"19.5\" y=\"19.5\" width=\"7\" height=\"7\" fill=\"#fff\"/>"));
        assert!(svg.contains("<rect x=\"20\" y=\"20\" width=\"6\" height=\"6\" fill=\"#000\"/>"));
        assert!(svg.contains("<rect x=\"22.415\" y=\"21.055\" width=\"1.17\" height=\"3.89\""));
        assert!(svg.ends_with("</g></svg>"));
        let (_, modules) = qrr_bill().modules().expect("encodes");
        assert!(modules.iter().any(|&m| m));
        // An invalid bill renders nothing.
        let mut b = qrr_bill();
        b.amount = Some(0);
        assert_eq!(code(b.to_svg()), "amount_out_of_range");
    }

    #[test]
    fn level_m_and_at_most_version_25() {
        let b = qrr_bill();
        let payload = b.payload().expect("valid");
        let code = encode(payload.as_bytes()).expect("encodes");
        assert_eq!(code.error_correction_level(), EcLevel::M);
        assert!(matches!(code.version(), Version::Normal(v) if v <= MAX_QR_VERSION));
        // 997 two-byte characters need more than version 25 holds.
        assert!(matches!(encode("é".repeat(997).as_bytes()), Err(QrBillError::QrCodeTooLarge)));
    }
}
