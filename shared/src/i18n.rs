//! English and French: which one a caller reads, and the messages in both.
//!
//! **Negotiation** (once per request, here and nowhere else): the request's
//! `Accept-Language`, by q-value (ties in header order, `q=0` meaning "not
//! this one"), else the signed-in user's stored `language`, else English.
//! Handlers take a [`Lang`] extractor; errors are rendered in it by
//! [`localize`], in the platform's layer that starts the negotiation.
//!
//! **Messages** are Project Fluent files, one per language, kept beside the
//! crate that says them (`locales/en.ftl`, `locales/fr.ftl`): the platform's
//! here, the business's in its own crates. A [`Catalog`] holds a crate's two
//! files as text and parses each the first time something is said in that
//! language, so a cold start parses nothing. A [`Text`] is a message with its
//! arguments, rendered in whatever language the reader turns out to have;
//! [`Stored`] is the same kept in a row (notifications), rendered through the
//! catalogs a binary [`register`]s.
//!
//! Dates, times and amounts are written the way each language writes them
//! ([`date`], [`datetime`], [`xaf`]); Fluent's own number formatting does not
//! group digits.

use std::borrow::Cow;
use std::fmt;
use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::sync::{Arc, OnceLock, RwLock};

use axum::extract::{FromRef, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Datelike, FixedOffset, Utc};
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use futures_util::future::Either;
use serde_json::{Value, json};

use crate::auth::Authentication;
use crate::state::AppState;

/// A language the app speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    En,
    Fr,
}

impl Lang {
    /// Both, English first.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Fr];

    /// `en` or `fr`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
        }
    }

    /// The language a tag names, by its primary subtag: `fr`, `fr-CM` and
    /// `FR` are French; anything but English and French is `None`.
    pub fn parse(tag: &str) -> Option<Lang> {
        let primary = tag.split(['-', '_']).next()?.trim();
        if primary.eq_ignore_ascii_case("en") {
            Some(Lang::En)
        } else if primary.eq_ignore_ascii_case("fr") {
            Some(Lang::Fr)
        } else {
            None
        }
    }

    /// The other one.
    pub fn other(self) -> Lang {
        match self {
            Lang::En => Lang::Fr,
            Lang::Fr => Lang::En,
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// The preferred language an `Accept-Language` value names: the highest
    /// q-value among English and French, ties going to the one listed first.
    /// `None` when it names neither (or only `*`, or each with `q=0`).
    pub fn from_accept_language(value: &str) -> Option<Lang> {
        let mut best: Option<(Lang, f32)> = None;
        // A real header lists a handful; a longer one is not read to its end.
        for item in value.split(',').take(32) {
            let mut parts = item.split(';');
            let Some(lang) = parts.next().and_then(Lang::parse) else {
                continue;
            };
            let mut q = 1.0_f32;
            for param in parts {
                if let Some((name, value)) = param.split_once('=')
                    && name.trim().eq_ignore_ascii_case("q")
                {
                    q = value.trim().parse().unwrap_or(-1.0);
                }
            }
            if !(q > 0.0 && q <= 1.0) {
                continue;
            }
            if best.is_none_or(|(_, b)| q > b) {
                best = Some((lang, q));
            }
        }
        best.map(|(lang, _)| lang)
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

// ---------------------------------------------------------------------------
// Catalogs

type Bundle = FluentBundle<FluentResource>;

/// One crate's messages in both languages, parsed on first use per language.
pub struct Catalog {
    name: &'static str,
    sources: [&'static str; 2],
    bundles: [OnceLock<Bundle>; 2],
}

impl fmt::Debug for Catalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Catalog").field(&self.name).finish()
    }
}

/// A crate's catalog from its `locales/en.ftl` and `locales/fr.ftl`:
/// `pub static MESSAGES: Catalog = shared::catalog!("domain");`.
#[macro_export]
macro_rules! catalog {
    ($name:literal) => {
        $crate::i18n::Catalog::new(
            $name,
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/locales/en.ftl")),
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/locales/fr.ftl")),
        )
    };
}

/// The platform's own messages (errors, validation, sign-in notices).
pub static MESSAGES: Catalog = catalog!("shared");

impl Catalog {
    /// A catalog over the English and French sources.
    pub const fn new(name: &'static str, en: &'static str, fr: &'static str) -> Self {
        Self {
            name,
            sources: [en, fr],
            bundles: [OnceLock::new(), OnceLock::new()],
        }
    }

    /// Its name (the crate's).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The Fluent source of `lang`, for the translation checks.
    pub fn source(&self, lang: Lang) -> &'static str {
        self.sources[lang.index()]
    }

    fn bundle(&self, lang: Lang) -> &Bundle {
        self.bundles[lang.index()].get_or_init(|| {
            let source = self.sources[lang.index()].to_owned();
            // The translation checks keep the files free of syntax errors; if
            // one slips through, what did parse is still served.
            let resource = FluentResource::try_new(source).unwrap_or_else(|(partial, errors)| {
                tracing::error!(catalog = self.name, %lang, ?errors, "message file has syntax errors");
                partial
            });
            let id = lang.code().parse().expect("a valid language tag");
            let mut bundle = Bundle::new_concurrent(vec![id]);
            // Isolation marks would reach the app as invisible characters.
            bundle.set_use_isolating(false);
            bundle
                .add_resource(resource)
                .expect("one resource has no duplicates across resources");
            bundle
        })
    }

    /// Whether the catalog has message `id`.
    pub fn has(&self, id: &str) -> bool {
        self.bundle(Lang::En).has_message(id)
    }

    /// A message of this catalog, to give arguments and render.
    pub fn text(&'static self, id: &'static str) -> Text {
        Text {
            catalog: self,
            id: Cow::Borrowed(id),
            args: Vec::new(),
        }
    }

    /// Message `id` (or its `attribute`) in `lang` with `args`; `None` when
    /// the catalog lacks it.
    pub fn format(
        &self,
        lang: Lang,
        id: &str,
        attribute: Option<&str>,
        args: &[(Cow<'static, str>, Arg)],
    ) -> Option<String> {
        let bundle = self.bundle(lang);
        let message = bundle.get_message(id)?;
        let pattern = match attribute {
            Some(name) => message.get_attribute(name)?.value(),
            None => message.value()?,
        };
        let mut fluent_args = FluentArgs::with_capacity(args.len());
        for (name, arg) in args {
            fluent_args.set(name.clone(), arg.value(lang));
        }
        let mut errors = Vec::new();
        let text = bundle.format_pattern(pattern, Some(&fluent_args), &mut errors);
        if !errors.is_empty() {
            tracing::warn!(
                catalog = self.name,
                id,
                ?errors,
                "message rendered with errors"
            );
        }
        Some(text.into_owned())
    }
}

/// A value given to a message; dates and amounts are written in the
/// reader's language.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Str(String),
    /// A count (Fluent picks the plural form from it).
    Int(i64),
    /// A moment, written as a date and time in West Africa Time.
    Time(DateTime<Utc>),
    /// An amount in XAF.
    Xaf(f64),
    /// Another message of the same catalog, rendered in the same language.
    Text(Box<Text>),
}

impl Arg {
    fn value(&self, lang: Lang) -> FluentValue<'static> {
        match self {
            Arg::Str(s) => FluentValue::from(s.clone()),
            Arg::Int(n) => FluentValue::from(*n),
            Arg::Time(t) => FluentValue::from(datetime(lang, *t)),
            Arg::Xaf(amount) => FluentValue::from(xaf(lang, *amount)),
            Arg::Text(text) => FluentValue::from(text.render(lang)),
        }
    }

    /// As kept in a row: strings and numbers as themselves, the rest tagged.
    fn to_json(&self) -> Value {
        match self {
            Arg::Str(s) => json!(s),
            Arg::Int(n) => json!(n),
            Arg::Time(t) => json!({ "time": t }),
            Arg::Xaf(a) => json!({ "xaf": a }),
            Arg::Text(t) => json!({ "text": t.id, "args": args_json(&t.args) }),
        }
    }

    fn from_json(value: &Value, catalog: &'static Catalog) -> Option<Arg> {
        Some(match value {
            Value::String(s) => Arg::Str(s.clone()),
            Value::Number(n) => Arg::Int(n.as_i64()?),
            Value::Object(o) => {
                if let Some(t) = o.get("time") {
                    Arg::Time(serde_json::from_value(t.clone()).ok()?)
                } else if let Some(a) = o.get("xaf") {
                    Arg::Xaf(a.as_f64()?)
                } else {
                    let id = o.get("text")?.as_str()?.to_owned();
                    let args = args_from_json(o.get("args").unwrap_or(&Value::Null), catalog);
                    Arg::Text(Box::new(Text {
                        catalog,
                        id: Cow::Owned(id),
                        args,
                    }))
                }
            }
            _ => return None,
        })
    }
}

impl From<String> for Arg {
    fn from(s: String) -> Self {
        Arg::Str(s)
    }
}

impl From<&str> for Arg {
    fn from(s: &str) -> Self {
        Arg::Str(s.to_owned())
    }
}

impl From<&String> for Arg {
    fn from(s: &String) -> Self {
        Arg::Str(s.clone())
    }
}

impl From<i64> for Arg {
    fn from(n: i64) -> Self {
        Arg::Int(n)
    }
}

impl From<i32> for Arg {
    fn from(n: i32) -> Self {
        Arg::Int(n.into())
    }
}

impl From<usize> for Arg {
    fn from(n: usize) -> Self {
        Arg::Int(i64::try_from(n).unwrap_or(i64::MAX))
    }
}

impl From<DateTime<Utc>> for Arg {
    fn from(t: DateTime<Utc>) -> Self {
        Arg::Time(t)
    }
}

impl From<Text> for Arg {
    fn from(t: Text) -> Self {
        Arg::Text(Box::new(t))
    }
}

/// A message with its arguments, not yet in any language. `Display` is English.
#[derive(Clone)]
pub struct Text {
    catalog: &'static Catalog,
    id: Cow<'static, str>,
    args: Vec<(Cow<'static, str>, Arg)>,
}

impl PartialEq for Text {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.catalog, other.catalog) && self.id == other.id && self.args == other.args
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.catalog.name, self.id)?;
        if !self.args.is_empty() {
            f.debug_map()
                .entries(self.args.iter().map(|(k, v)| (k, v)))
                .finish()?;
        }
        Ok(())
    }
}

impl Text {
    /// With argument `name` set to `value`.
    #[must_use]
    pub fn arg(mut self, name: &'static str, value: impl Into<Arg>) -> Self {
        self.args.push((Cow::Borrowed(name), value.into()));
        self
    }

    /// With an amount in XAF, written the reader's way.
    #[must_use]
    pub fn xaf(self, name: &'static str, amount: f64) -> Self {
        self.arg(name, Arg::Xaf(amount))
    }

    /// The message's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The message in `lang` (its id, should the catalog lack it).
    pub fn render(&self, lang: Lang) -> String {
        self.catalog
            .format(lang, &self.id, None, &self.args)
            .unwrap_or_else(|| self.id.to_string())
    }

    /// The message's `attribute` (`.body`) in `lang`, if it has one.
    pub fn attribute(&self, lang: Lang, attribute: &str) -> Option<String> {
        self.catalog
            .format(lang, &self.id, Some(attribute), &self.args)
    }

    /// The message as a row keeps it.
    pub fn to_stored(&self) -> Stored {
        Stored {
            key: self.id.to_string(),
            params: args_json(&self.args),
        }
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(Lang::En))
    }
}

fn args_json(args: &[(Cow<'static, str>, Arg)]) -> Value {
    Value::Object(
        args.iter()
            .map(|(k, v)| (k.to_string(), v.to_json()))
            .collect(),
    )
}

fn args_from_json(value: &Value, catalog: &'static Catalog) -> Vec<(Cow<'static, str>, Arg)> {
    value
        .as_object()
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| Some((Cow::Owned(k.clone()), Arg::from_json(v, catalog)?)))
                .collect()
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------
// Stored messages

static REGISTERED: RwLock<Vec<&'static Catalog>> = RwLock::new(Vec::new());

/// Makes `catalog`'s messages renderable from rows ([`Stored`]) in this
/// process; the runtime registers each served function's catalogs.
pub fn register(catalog: &'static Catalog) {
    let mut registered = REGISTERED.write().expect("not poisoned");
    if !registered.iter().any(|c| std::ptr::eq(*c, catalog)) {
        registered.push(catalog);
    }
}

/// A message as a row keeps it: its id and its arguments as JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub key: String,
    pub params: Value,
}

impl Stored {
    /// The message again, from the platform's catalog or a registered one;
    /// `None` when none of them has it.
    pub fn text(&self) -> Option<Text> {
        let catalog = std::iter::once(&MESSAGES)
            .chain(REGISTERED.read().expect("not poisoned").iter().copied())
            .find(|c| c.has(&self.key))?;
        Some(Text {
            catalog,
            id: Cow::Owned(self.key.clone()),
            args: args_from_json(&self.params, catalog),
        })
    }
}

// ---------------------------------------------------------------------------
// Formatting

/// West Africa Time (UTC+1, no daylight saving): the app's clock.
pub fn wat(t: DateTime<Utc>) -> DateTime<FixedOffset> {
    t.with_timezone(&crate::time::wat_offset())
}

const DAYS: [[&str; 7]; 2] = [
    ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
    ["lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."],
];
const MONTHS: [[&str; 12]; 2] = [
    [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ],
    [
        "janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.",
        "déc.",
    ],
];

/// The day in West Africa Time: `Sat 5 Dec 2026`, `sam. 5 déc. 2026`.
pub fn date(lang: Lang, t: DateTime<Utc>) -> String {
    let d = wat(t);
    let day = DAYS[lang.index()][d.weekday().num_days_from_monday() as usize];
    let month = MONTHS[lang.index()][d.month0() as usize];
    format!("{day} {} {month} {}", d.day(), d.year())
}

/// Clauses of one sentence: `a; b`, and in French `a ; b` (French sets a
/// space before the semicolon, as before the colon).
pub fn clauses(lang: Lang, parts: &[String]) -> String {
    parts.join(match lang {
        Lang::En => "; ",
        Lang::Fr => " ; ",
    })
}

/// The time of day in West Africa Time: `06:00 WAT` in both languages.
pub fn time(t: DateTime<Utc>) -> String {
    wat(t).format("%H:%M WAT").to_string()
}

/// Date and time: `Sat 5 Dec 2026, 06:00 WAT`, `sam. 5 déc. 2026 à 06:00 WAT`.
pub fn datetime(lang: Lang, t: DateTime<Utc>) -> String {
    let joiner = match lang {
        Lang::En => ", ",
        Lang::Fr => " à ",
    };
    format!("{}{joiner}{}", date(lang, t), time(t))
}

/// A whole amount of francs: `7,600 XAF`, and in French `7 600 XAF` with
/// narrow no-break spaces (U+202F) between digit groups and before the unit.
pub fn xaf(lang: Lang, amount: f64) -> String {
    let (group, unit) = match lang {
        Lang::En => (',', ' '),
        Lang::Fr => ('\u{202F}', '\u{202F}'),
    };
    let digits = format!("{:.0}", amount.abs());
    let mut out = String::with_capacity(digits.len() + 8);
    if amount < -0.5 {
        out.push('-');
    }
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(group);
        }
        out.push(d);
    }
    out.push(unit);
    out.push_str("XAF");
    out
}

// ---------------------------------------------------------------------------
// Negotiation

/// What the request says about its reader, shared by the layers and the
/// extractor so the stored language is read at most once.
#[derive(Debug, Default)]
pub struct Locale {
    accept: Option<Lang>,
    uid: OnceLock<String>,
    stored: OnceLock<Lang>,
}

impl Locale {
    /// From the request's `Accept-Language`.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let accept = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .and_then(Lang::from_accept_language);
        Self {
            accept,
            ..Self::default()
        }
    }

    /// Records who is signed in (the guard, once the token is verified).
    pub fn signed_in(&self, uid: &str) {
        let _ = self.uid.set(uid.to_owned());
    }

    /// The negotiated language, reading the signed-in user's stored one
    /// only when the header names none.
    pub async fn resolve(&self, state: &AppState) -> Lang {
        if let Some(lang) = self.accept {
            return lang;
        }
        if let Some(lang) = self.stored.get() {
            return *lang;
        }
        let Some(uid) = self.uid.get() else {
            return Lang::En;
        };
        let lang = stored_language(state, uid).await;
        let _ = self.stored.set(lang);
        lang
    }
}

/// `uid`'s stored language; English when unknown or unreadable.
pub async fn stored_language(state: &AppState, uid: &str) -> Lang {
    let found: Result<Option<String>, _> =
        sqlx::query_scalar("SELECT language FROM users WHERE uid = $1")
            .bind(uid)
            .fetch_optional(&state.db)
            .await;
    match found {
        Ok(language) => language
            .as_deref()
            .and_then(Lang::parse)
            .unwrap_or_default(),
        Err(e) => {
            tracing::warn!(error = %e, "could not read the user's language; answering in English");
            Lang::En
        }
    }
}

/// The caller's language, negotiated as the module says.
impl<S> FromRequestParts<S> for Lang
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let locale = match parts.extensions.get::<Arc<Locale>>() {
            Some(locale) => locale.clone(),
            None => {
                // Outside the served app (a router under test): negotiate here.
                let locale = Locale::from_headers(&parts.headers);
                if let Some(Authentication::User(user)) = parts.extensions.get() {
                    locale.signed_in(&user.uid);
                }
                Arc::new(locale)
            }
        };
        Ok(locale.resolve(&AppState::from_ref(state)).await)
    }
}

/// An error's body and what its `message` says, left on the response by
/// [`crate::error::ApiError`] so [`localize`] can write the message in the
/// reader's language.
#[derive(Debug, Clone)]
pub struct ErrorText {
    pub detail: Value,
    pub parts: Vec<ErrorPart>,
}

/// One sentence of an error's `message`: a field's problem, or the whole.
#[derive(Debug, Clone)]
pub struct ErrorPart {
    /// The field it is about (`passengers`), if any.
    pub field: Option<String>,
    /// What English readers see (for fields, the `msg` of `detail`).
    pub english: String,
    pub text: Text,
}

impl ErrorPart {
    /// A whole-request message.
    pub fn of(text: Text) -> Self {
        Self {
            field: None,
            english: text.render(Lang::En),
            text,
        }
    }
}

impl ErrorText {
    /// The `message` in `lang`: each part, `field: problem`, joined by `; `
    /// (` ; ` in French).
    pub fn render(&self, lang: Lang) -> String {
        let parts: Vec<String> = self
            .parts
            .iter()
            .map(|p| {
                let problem = match lang {
                    Lang::En => p.english.clone(),
                    _ => p.text.render(lang),
                };
                match &p.field {
                    Some(field) => MESSAGES
                        .text("field-problem")
                        .arg("field", field)
                        .arg("problem", problem)
                        .render(lang),
                    None => problem,
                }
            })
            .collect();
        clauses(lang, &parts)
    }
}

/// Starts a request's negotiation: the [`Locale`] the [`Lang`] extractor and
/// [`localize`] read.
pub(crate) fn negotiate(req: &mut Request) -> Arc<Locale> {
    let locale = Arc::new(Locale::from_headers(req.headers()));
    req.extensions_mut().insert(locale.clone());
    locale
}

/// Writes an error's `message` in the negotiated language (English errors
/// pass untouched; `detail` never changes). A response that is no error
/// passes at once, without a future of its own.
pub(crate) fn localize(
    state: AppState,
    locale: Arc<Locale>,
    mut response: Response,
) -> Either<Ready<Response>, Pin<Box<dyn Future<Output = Response> + Send>>> {
    let Some(error) = response.extensions_mut().remove::<ErrorText>() else {
        return Either::Left(ready(response));
    };
    Either::Right(Box::pin(async move {
        // A database that is away would only be asked again.
        let lang = if response.status() == StatusCode::SERVICE_UNAVAILABLE {
            locale.accept.unwrap_or_default()
        } else {
            locale.resolve(&state).await
        };
        if lang == Lang::En {
            return response;
        }
        let body = json!({ "detail": error.detail, "message": error.render(lang) });
        let (mut parts, _) = response.into_parts();
        parts.headers.remove(header::CONTENT_LENGTH);
        let mut localized = (parts.status, axum::Json(body)).into_response();
        std::mem::swap(localized.headers_mut(), &mut parts.headers);
        localized.headers_mut().insert(
            header::CONTENT_LANGUAGE,
            lang.code().parse().expect("ascii"),
        );
        *localized.extensions_mut() = parts.extensions;
        localized
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn accept_language_picks_the_highest_q_value_the_app_speaks() {
        let pick = Lang::from_accept_language;
        assert_eq!(pick("fr"), Some(Lang::Fr));
        assert_eq!(pick("fr-CM,fr;q=0.9,en;q=0.8"), Some(Lang::Fr));
        assert_eq!(pick("en-GB,en;q=0.9,fr;q=0.8"), Some(Lang::En));
        assert_eq!(
            pick("en;q=0.5, fr;q=0.7"),
            Some(Lang::Fr),
            "order is not rank"
        );
        assert_eq!(
            pick("de-DE,de;q=0.9,fr;q=0.3"),
            Some(Lang::Fr),
            "skips what the app lacks"
        );
        assert_eq!(pick("fr;q=0, en;q=0.1"), Some(Lang::En), "q=0 refuses");
        assert_eq!(pick("en, fr"), Some(Lang::En), "a tie goes to the first");
        assert_eq!(pick("FR-ca"), Some(Lang::Fr), "tags are case-insensitive");
        assert_eq!(
            pick("fr;q=2, en;q=0.2"),
            Some(Lang::En),
            "an invalid q is ignored"
        );
        assert_eq!(pick("de, *"), None);
        assert_eq!(pick(""), None);
        assert_eq!(pick("fr;q=0"), None);
    }

    #[test]
    fn dates_and_amounts_are_written_each_languages_way() {
        let t = Utc.with_ymd_and_hms(2026, 12, 5, 5, 0, 0).unwrap();
        assert_eq!(date(Lang::En, t), "Sat 5 Dec 2026");
        assert_eq!(date(Lang::Fr, t), "sam. 5 déc. 2026");
        assert_eq!(datetime(Lang::En, t), "Sat 5 Dec 2026, 06:00 WAT");
        assert_eq!(datetime(Lang::Fr, t), "sam. 5 déc. 2026 à 06:00 WAT");
        let friday = Utc.with_ymd_and_hms(2026, 11, 27, 5, 0, 0).unwrap();
        assert_eq!(datetime(Lang::En, friday), "Fri 27 Nov 2026, 06:00 WAT");
        let late = Utc.with_ymd_and_hms(2026, 12, 5, 23, 30, 0).unwrap();
        assert_eq!(date(Lang::Fr, late), "dim. 6 déc. 2026", "the day is WAT's");
        assert_eq!(xaf(Lang::En, 7600.0), "7,600 XAF");
        assert_eq!(xaf(Lang::Fr, 7600.0), "7\u{202F}600\u{202F}XAF");
        assert_eq!(xaf(Lang::En, 1_250_000.0), "1,250,000 XAF");
        assert_eq!(xaf(Lang::Fr, 950.0), "950\u{202F}XAF");
        let parts = ["a".to_owned(), "b".to_owned()];
        assert_eq!(clauses(Lang::Fr, &parts), "a ; b");
        assert_eq!(clauses(Lang::En, &parts), "a; b");
    }

    #[test]
    fn a_text_renders_in_either_language_and_survives_a_row() {
        let text = MESSAGES
            .text("new-sign-in")
            .arg("device", "Pixel 8 (android)");
        assert_eq!(text.render(Lang::En), "New sign-in");
        assert_eq!(text.render(Lang::Fr), "Nouvelle connexion");
        let body = text.attribute(Lang::Fr, "body").unwrap();
        assert!(body.contains("Pixel 8 (android)"), "{body}");
        let stored = text.to_stored();
        assert_eq!(stored.text().unwrap(), text);
        let unknown = Stored {
            key: "no-such-message".into(),
            params: json!({}),
        };
        assert_eq!(unknown.text(), None);
    }

    /// Every `locales/` folder of the workspace, with its two files' text.
    fn catalogs() -> Vec<(std::path::PathBuf, [String; 2])> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut found = Vec::new();
        let mut dirs = vec![root];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                let name = entry.file_name();
                if !path.is_dir()
                    || [".git", "target", "node_modules", ".tools"]
                        .contains(&name.to_str().unwrap())
                {
                    continue;
                }
                if name == "locales" {
                    let read = |lang: &str| {
                        std::fs::read_to_string(path.join(format!("{lang}.ftl")))
                            .unwrap_or_default()
                    };
                    found.push((path.clone(), [read("en"), read("fr")]));
                } else {
                    dirs.push(path);
                }
            }
        }
        found
    }

    /// `id` or `id.attribute` → the variables it uses, from a Fluent file.
    fn placeholders(
        source: &str,
    ) -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
        let mut out = std::collections::BTreeMap::new();
        let (mut message, mut current) = (String::new(), String::new());
        for line in source.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let (head, value) = line.split_once('=').unwrap_or(("", line));
            if !line.starts_with(' ') && !head.is_empty() {
                message = head.trim().to_owned();
                current = message.clone();
            } else if head.trim().starts_with('.') && !head.contains('{') {
                current = format!("{message}{}", head.trim());
            } else {
                // A continuation line: all of it belongs to the current pattern.
                let entry: &mut std::collections::BTreeSet<String> =
                    out.entry(current.clone()).or_default();
                entry.extend(variables(line));
                continue;
            }
            let entry: &mut std::collections::BTreeSet<String> =
                out.entry(current.clone()).or_default();
            entry.extend(variables(value));
        }
        out
    }

    fn variables(text: &str) -> Vec<String> {
        text.split('$')
            .skip(1)
            .map(|rest| {
                rest.chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                    .collect()
            })
            .collect()
    }

    #[test]
    fn every_message_is_in_both_languages_with_the_same_placeholders() {
        let catalogs = catalogs();
        let dirs: Vec<_> = catalogs
            .iter()
            .map(|(dir, _)| dir.display().to_string())
            .collect();
        assert!(
            dirs.len() >= 3,
            "the platform's, the business's and the models' catalogs: {dirs:?}"
        );
        let mut owner: std::collections::BTreeMap<String, std::path::PathBuf> = Default::default();
        let mut problems = Vec::new();
        for (dir, [en, fr]) in &catalogs {
            for (lang, source) in [("en", en), ("fr", fr)] {
                if let Err((_, errors)) = FluentResource::try_new(source.clone()) {
                    problems.push(format!(
                        "{}/{lang}.ftl does not parse: {errors:?}",
                        dir.display()
                    ));
                }
            }
            let (en, fr) = (placeholders(en), placeholders(fr));
            for (id, vars) in &en {
                match fr.get(id) {
                    None => problems.push(format!("{}: `{id}` has no French", dir.display())),
                    Some(fr_vars) if fr_vars != vars => problems.push(format!(
                        "{}: `{id}` uses {vars:?} in English, {fr_vars:?} in French",
                        dir.display()
                    )),
                    Some(_) => {}
                }
            }
            for id in fr.keys().filter(|id| !en.contains_key(*id)) {
                problems.push(format!("{}: `{id}` has no English", dir.display()));
            }
            for id in en.keys().filter(|id| !id.contains('.')) {
                if let Some(other) = owner.insert(id.clone(), dir.clone()) {
                    problems.push(format!(
                        "`{id}` is in {} and {}: stored messages need one owner",
                        other.display(),
                        dir.display()
                    ));
                }
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn a_missing_translation_or_placeholder_is_caught() {
        let en = placeholders("a = A { $x }\nb = B\n    .body = { $y } and { $z }\n");
        let fr = placeholders("a = A { $x }\nb = B\n    .body = { $y }\n");
        assert_eq!(en["a"], fr["a"]);
        assert_ne!(en["b.body"], fr["b.body"]);
        assert!(!placeholders("a = A").contains_key("b"));
    }

    #[test]
    fn nothing_is_parsed_until_a_language_is_needed() {
        static LAZY: Catalog = Catalog::new("lazy", "hi = Hi", "hi = Salut");
        assert!(LAZY.bundles.iter().all(|b| b.get().is_none()));
        assert_eq!(LAZY.text("hi").render(Lang::Fr), "Salut");
        assert!(LAZY.bundles[Lang::En.index()].get().is_none());
        assert!(LAZY.bundles[Lang::Fr.index()].get().is_some());
    }
}
