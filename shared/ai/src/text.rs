//! Text relevance for recommendations: accent- and case-insensitive tokens
//! without English or French stop words, French tourism words mapped to the
//! English the catalogue is written in (`musée` → `museum`), a light suffix
//! stemmer (`history`, `historical`, `historique` meet), and Okapi BM25
//! over a small set of documents.

use std::collections::{BTreeMap, HashMap};

const STOP_WORDS: &[&str] = &[
    // English
    "a",
    "about",
    "an",
    "and",
    "are",
    "as",
    "at",
    "be",
    "by",
    "for",
    "from",
    "i",
    "in",
    "into",
    "is",
    "it",
    "its",
    "like",
    "me",
    "my",
    "of",
    "on",
    "or",
    "our",
    "some",
    "that",
    "the",
    "their",
    "this",
    "to",
    "want",
    "we",
    "with",
    "you",
    "your",
    "love",
    "interested",
    // French
    "au",
    "aux",
    "avec",
    "ce",
    "ces",
    "dans",
    "de",
    "des",
    "du",
    "elle",
    "en",
    "et",
    "il",
    "je",
    "la",
    "le",
    "les",
    "leur",
    "mais",
    "mes",
    "mon",
    "nous",
    "ou",
    "par",
    "pour",
    "qui",
    "sa",
    "se",
    "ses",
    "son",
    "sur",
    "un",
    "une",
    "vos",
    "votre",
    "aime",
    "adore",
    "j",
    "l",
    "d",
    "y",
];

/// French (folded) tourism words and the English word the catalogue uses.
const FRENCH: &[(&str, &str)] = &[
    ("musee", "museum"),
    ("musees", "museum"),
    ("histoire", "history"),
    ("historique", "history"),
    ("historiques", "history"),
    ("patrimoine", "heritage"),
    ("plage", "beach"),
    ("plages", "beach"),
    ("montagne", "mountain"),
    ("montagnes", "mountain"),
    ("randonnee", "hiking"),
    ("randonnees", "hiking"),
    ("marche", "market"),
    ("marches", "market"),
    ("cathedrale", "cathedral"),
    ("eglise", "church"),
    ("jardin", "garden"),
    ("jardins", "garden"),
    ("botanique", "botanical"),
    ("animaux", "wildlife"),
    ("faune", "wildlife"),
    ("coloniale", "colonial"),
    ("colonial", "colonial"),
    ("palais", "palace"),
    ("royaute", "monarchy"),
    ("roi", "monarchy"),
    ("cuisine", "dining"),
    ("restaurant", "dining"),
    ("vue", "viewpoint"),
    ("panorama", "viewpoint"),
    ("photographie", "photography"),
    ("photo", "photography"),
    ("achats", "shopping"),
    ("famille", "family"),
    ("enfants", "family"),
    ("aventure", "adventure"),
    ("sommet", "summit"),
    ("baignade", "swimming"),
    ("nager", "swimming"),
    ("mer", "sea"),
    ("poisson", "seafood"),
    ("fruits", "seafood"),
    ("maritime", "maritime"),
    ("contemporain", "contemporary"),
    ("culturel", "culture"),
    ("culturelle", "culture"),
    ("nature", "nature"),
    ("architecture", "architecture"),
    ("religion", "religion"),
    ("religieux", "religion"),
    ("affaires", "business"),
    ("coucher", "sunset"),
    ("soleil", "sunset"),
    ("volcan", "mountain"),
];

/// Lower case without accents: `Musée` → `musee`.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => out.push('a'),
            'ç' => out.push('c'),
            'è' | 'é' | 'ê' | 'ë' => out.push('e'),
            'ì' | 'í' | 'î' | 'ï' => out.push('i'),
            'ñ' => out.push('n'),
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' => out.push('o'),
            'ù' | 'ú' | 'û' | 'ü' => out.push('u'),
            'ý' | 'ÿ' => out.push('y'),
            'œ' => out.push_str("oe"),
            'æ' => out.push_str("ae"),
            c => out.push(c),
        }
    }
    out
}

/// Strips common English and French suffixes so word forms meet.
pub fn stem(word: &str) -> String {
    for suffix in [
        "ically", "ical", "ique", "ies", "ing", "ers", "er", "es", "al", "s", "y", "e",
    ] {
        if let Some(base) = word.strip_suffix(suffix)
            && base.chars().count() >= 4
        {
            return base.to_owned();
        }
    }
    word.to_owned()
}

/// The terms of a text: folded, split on anything not a letter or digit,
/// stop words dropped, French words translated, stemmed.
pub fn terms(text: &str) -> Vec<String> {
    fold(text)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && !STOP_WORDS.contains(w))
        .map(|w| {
            let english = FRENCH
                .iter()
                .find(|(fr, _)| *fr == w)
                .map_or(w, |(_, en)| en);
            stem(english)
        })
        .collect()
}

/// One document: its terms, and which field each came from, for the reason.
#[derive(Debug, Clone, Default)]
pub struct Document {
    counts: HashMap<String, f64>,
    length: f64,
}

impl Document {
    /// A document from weighted fields (a name or tag counts more than prose).
    pub fn new(fields: &[(&str, f64)]) -> Self {
        let mut counts: HashMap<String, f64> = HashMap::new();
        let mut length = 0.0;
        for (text, weight) in fields {
            for t in terms(text) {
                *counts.entry(t).or_default() += weight;
                length += weight;
            }
        }
        Self { counts, length }
    }

    /// Whether the document holds `term`.
    pub fn has(&self, term: &str) -> bool {
        self.counts.contains_key(term)
    }
}

/// Okapi BM25 (k1 = 1.2, b = 0.75) of weighted query terms against `docs`;
/// per document, its score and the query terms it matched.
pub fn bm25(query: &BTreeMap<String, f64>, docs: &[Document]) -> Vec<(f64, Vec<String>)> {
    const K1: f64 = 1.2;
    const B: f64 = 0.75;
    let n = docs.len() as f64;
    let average = (docs.iter().map(|d| d.length).sum::<f64>() / n.max(1.0)).max(1.0);
    let idf: HashMap<&str, f64> = query
        .keys()
        .map(|t| {
            let df = docs.iter().filter(|d| d.has(t)).count() as f64;
            (t.as_str(), ((n - df + 0.5) / (df + 0.5) + 1.0).ln())
        })
        .collect();
    docs.iter()
        .map(|d| {
            let mut score = 0.0;
            let mut matched = Vec::new();
            for (t, weight) in query {
                if let Some(&tf) = d.counts.get(t) {
                    let norm = tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * d.length / average));
                    score += weight * idf[t.as_str()] * norm;
                    matched.push(t.clone());
                }
            }
            (score, matched)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_translates_and_stems() {
        assert_eq!(fold("Musée d'Histoire YAOUNDÉ"), "musee d'histoire yaounde");
        assert_eq!(terms("musée histoire"), terms("museum history"));
        assert_eq!(terms("historical"), terms("History"));
        assert!(terms("the museum and a zoo").len() == 2);
    }

    #[test]
    fn bm25_prefers_the_matching_document() {
        let docs = vec![
            Document::new(&[("National Museum", 3.0), ("history art", 2.0)]),
            Document::new(&[("Zoo", 3.0), ("wildlife nature", 2.0)]),
        ];
        let query: BTreeMap<String, f64> = terms("museum history")
            .into_iter()
            .map(|t| (t, 1.0))
            .collect();
        let scores = bm25(&query, &docs);
        assert!(scores[0].0 > 0.0 && scores[1].0 == 0.0);
        assert_eq!(scores[0].1.len(), 2);
    }
}
