//! Prints the Swiss QR Code of an example QR-bill as SVG, for a visual check:
//! `cargo run -p quartier-pricing --example qrbill_svg > bill.svg`.

use quartier_pricing::qrbill::{Address, Currency, LineEnding, QrBill, Reference, qrr_reference};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bill = QrBill {
        iban: "CH44 3199 9123 0008 8901 2".into(),
        creditor: Address {
            name: "Anna Helferin".into(),
            street: Some("Bahnhofstrasse".into()),
            house_number: Some("1".into()),
            postcode: "8001".into(),
            town: "Zürich".into(),
            country: "CH".into(),
        },
        amount: Some(5_837),
        currency: Currency::Chf,
        debtor: Some(Address {
            name: "Beat Kunde".into(),
            street: Some("Seestrasse".into()),
            house_number: Some("22".into()),
            postcode: "8002".into(),
            town: "Zürich".into(),
            country: "CH".into(),
        }),
        reference: Reference::Qrr(qrr_reference("2026031100042")?),
        message: Some("Quartier booking 42: Guest Wi-Fi set-up".into()),
        bill_information: None,
        line_ending: LineEnding::CrLf,
    };
    println!("{}", bill.to_svg()?);
    Ok(())
}
