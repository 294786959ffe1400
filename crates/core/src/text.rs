//! Text that came from outside the process (an authorization server's error
//! description, a metadata value) made safe to show on a terminal, in a
//! notification or on the dashboard.
//!
//! Control characters could move a terminal's cursor or rewrite what was
//! printed before; Unicode format characters (general category Cf: bidi
//! overrides such as U+202E, zero-width characters, invisible separators)
//! could make the shown text read differently from what it is, so a host
//! name or an error code could be disguised. Both are dropped.

/// `text` with control and format characters dropped, cut to `max`
/// characters (counted after dropping).
pub fn untrusted(text: &str, max: usize) -> String {
    text.chars().filter(|c| is_shown(*c)).take(max).collect()
}

/// Whether `text` holds a character [`untrusted`] would drop.
pub fn has_hidden(text: &str) -> bool {
    text.chars().any(|c| !is_shown(c))
}

fn is_shown(c: char) -> bool {
    !c.is_control() && !is_format(c)
}

/// Unicode general category Cf (format), as of Unicode 16.
fn is_format(c: char) -> bool {
    matches!(
        c as u32,
        0x00AD
            | 0x0600..=0x0605
            | 0x061C
            | 0x06DD
            | 0x070F
            | 0x0890..=0x0891
            | 0x08E2
            | 0x180E
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x206F
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0001
            | 0xE0020..=0xE007F
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_control_characters() {
        assert_eq!(untrusted("bad\u{1b}[2Jcode\r\n\0", 100), "bad[2Jcode");
    }

    #[test]
    fn drops_bidi_overrides_and_invisible_characters() {
        // "evil\u{202E}moc.elgoog" would display as "evilgoogle.com".
        assert_eq!(
            untrusted("evil\u{202E}moc.elgoog\u{200B}\u{2066}\u{FEFF}", 100),
            "evilmoc.elgoog"
        );
        assert!(has_hidden("a\u{202E}b"));
        assert!(has_hidden("a\u{E0041}b"));
        assert!(!has_hidden("plain ascii, accents é and 漢字"));
    }

    #[test]
    fn cuts_after_dropping() {
        assert_eq!(untrusted("\u{202E}abcdef", 3), "abc");
        assert_eq!(untrusted("ééééé", 2), "éé");
    }
}
