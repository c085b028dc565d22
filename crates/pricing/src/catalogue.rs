//! The catalogue Quartier starts with: jobs neighbourhood helpers do, priced below a technician.

use quartier_domain::Money;

use crate::Service;

/// (slug, name, description, skill, base CHF, minutes, extra unit CHF)
const ENTRIES: &[(&str, &str, &str, &str, i64, u32, i64)] = &[
    (
        "guest-wifi",
        "Guest Wi-Fi set-up",
        "A separate Wi-Fi for visitors, with a QR code to join and your own network kept private.",
        "wifi",
        49,
        45,
        20,
    ),
    (
        "wifi-coverage",
        "Better Wi-Fi at home",
        "Find the dead spots, move or add a repeater or mesh unit, and test every room.",
        "wifi",
        69,
        60,
        20,
    ),
    (
        "router-setup",
        "New router set-up",
        "Connect and configure the router from your provider, secure the admin login and move your devices over.",
        "router",
        59,
        60,
        20,
    ),
    ("tv-box", "TV box installation", "Connect the TV box, sign in, sort the channels and show you the remote.", "tv", 49, 45, 20),
    (
        "smartphone-setup",
        "New smartphone and data transfer",
        "Move contacts, photos, chats and apps from the old phone to the new one.",
        "smartphone",
        69,
        60,
        20,
    ),
    (
        "printer-setup",
        "Printer and scanner set-up",
        "Install the printer on Wi-Fi, on every computer and phone that needs it, and scan to e-mail.",
        "printer",
        49,
        45,
        20,
    ),
    (
        "smart-home",
        "Smart-home device",
        "Install a smart plug, bulb, thermostat or doorbell and connect it to your phone.",
        "smart_home",
        59,
        60,
        20,
    ),
    (
        "pc-cleanup",
        "Computer clean-up",
        "Remove clutter and unwanted programs, install updates and check the backups.",
        "computer",
        79,
        90,
        20,
    ),
    (
        "app-coaching",
        "App coaching",
        "Patient, one-to-one help with the apps you want: banking, SBB, TWINT, WhatsApp or others.",
        "apps",
        39,
        60,
        15,
    ),
    (
        "video-call",
        "Video calls for the family",
        "Set up video calling on a tablet or phone and practise the first call together.",
        "video_call",
        39,
        45,
        15,
    ),
    (
        "email-setup",
        "E-mail on all devices",
        "Set up your mailbox on phone, tablet and computer, with spam filter and a strong password.",
        "email",
        39,
        45,
        15,
    ),
    (
        "backup-photos",
        "Photo backup",
        "Back up the photos from your phone to a cloud or a disk, and check that restoring works.",
        "computer",
        49,
        60,
        15,
    ),
    (
        "tablet-setup",
        "New tablet for beginners",
        "Set up a tablet with large text, the apps you need and a short lesson.",
        "smartphone",
        59,
        60,
        15,
    ),
    ("streaming-tv", "Streaming on the TV", "Bring Netflix, Play Suisse or YouTube to the TV and show how to use them.", "tv", 39, 45, 15),
];

/// The default catalogue, in display order.
pub fn default_catalogue() -> Vec<Service> {
    ENTRIES
        .iter()
        .map(|&(slug, name, description, skill, chf, minutes, extra)| Service {
            slug: slug.to_owned(),
            name: name.to_owned(),
            description: description.to_owned(),
            skill: skill.to_owned(),
            base_price: Money::chf(chf),
            duration_minutes: minutes,
            extra_unit_price: Money::chf(extra),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_has_at_least_twelve_services_priced_30_to_100_francs() {
        let c = default_catalogue();
        assert!(c.len() >= 12);
        for s in &c {
            assert!((3_000..=10_000).contains(&s.base_price.rappen()), "{}", s.slug);
            assert!(s.duration_minutes >= 30);
        }
    }

    #[test]
    fn slugs_are_unique() {
        let c = default_catalogue();
        let mut slugs: Vec<_> = c.iter().map(|s| &s.slug).collect();
        slugs.sort();
        slugs.dedup();
        assert_eq!(slugs.len(), c.len());
    }
}
