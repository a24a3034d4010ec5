//! Numbers, days and lists inside the models' sentences, written each
//! language's way: `4.5` and `4,5`, `A, B and C` and `A, B et C`.

use shared::i18n::{Lang, Text};

use super::MESSAGES;

/// `value` with `places` decimals: a decimal point in English, a comma in French.
pub fn number(lang: Lang, value: f64, places: usize) -> String {
    localize(lang, format!("{value:.places$}"))
}

/// `value` with `places` decimals and its sign always written (`+1.5`, `-0.3`).
pub fn signed(lang: Lang, value: f64, places: usize) -> String {
    localize(lang, format!("{value:+.places$}"))
}

fn localize(lang: Lang, digits: String) -> String {
    match lang {
        Lang::En => digits,
        Lang::Fr => digits.replace('.', ","),
    }
}

/// A share (0 to 1) in whole percent, without the sign: `0.626` is `63`.
pub fn percent(lang: Lang, share: f64) -> String {
    number(lang, 100.0 * share, 0)
}

/// The days a departure runs on, Monday (0) first: `Fridays`, `le vendredi`.
pub fn on_day(weekday: usize) -> Text {
    const DAYS: [&str; 7] = [
        "ai-on-day-0",
        "ai-on-day-1",
        "ai-on-day-2",
        "ai-on-day-3",
        "ai-on-day-4",
        "ai-on-day-5",
        "ai-on-day-6",
    ];
    MESSAGES.text(DAYS[weekday % 7])
}

/// `A, B and C` (`A, B et C`); one item alone, nothing for none.
pub fn and_list(lang: Lang, items: &[&str]) -> String {
    match items.split_last() {
        Some((last, rest)) if !rest.is_empty() => MESSAGES
            .text("ai-list-and")
            .arg("rest", rest.join(", "))
            .arg("last", *last)
            .render(lang),
        _ => items.concat(),
    }
}

/// Time on the road: `3h05`, `3 h 05`.
pub fn duration(lang: Lang, minutes: i32) -> String {
    MESSAGES
        .text("ai-duration")
        .arg("hours", minutes / 60)
        .arg("minutes", format!("{:02}", minutes % 60))
        .render(lang)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_days_and_lists_follow_the_language() {
        assert_eq!(number(Lang::En, 4.24, 1), "4.2");
        assert_eq!(number(Lang::Fr, 4.26, 1), "4,3");
        assert_eq!(signed(Lang::Fr, 1.5, 1), "+1,5");
        assert_eq!(percent(Lang::En, 0.626), "63");
        assert_eq!(on_day(4).render(Lang::En), "Fridays");
        assert_eq!(on_day(4).render(Lang::Fr), "le vendredi");
        let names = ["Zoo", "Museum", "Market"];
        assert_eq!(and_list(Lang::En, &names), "Zoo, Museum and Market");
        assert_eq!(and_list(Lang::Fr, &names), "Zoo, Museum et Market");
        assert_eq!(and_list(Lang::Fr, &names[..1]), "Zoo");
        assert_eq!(duration(Lang::En, 185), "3h05");
        assert_eq!(duration(Lang::Fr, 185), "3 h 05");
    }
}
