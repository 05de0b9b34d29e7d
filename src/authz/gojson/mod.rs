//! Reading JSON the way Go's `encoding/json` reads it into dockerd's structs.
//!
//! dockerd decodes request bodies with `json.NewDecoder(body).Decode(&typedStruct)`. Two bodies that
//! look alike to a generic JSON parser can produce different containers in dockerd, so a policy that
//! reads bodies any other way can be bypassed (see `shared/docs/dockerd-decoding.md`). serde_json does
//! the tokenising; this module adds the part no crate does — Go's key folding and merge semantics:
//!
//! * object keys match struct fields case-insensitively with Unicode simple folding
//!   (`ſ` U+017F folds to `s`, `K` U+212A to `k`), see [`go_name_eq`];
//! * repeated keys are applied in order: a later scalar overwrites, a later object merges into an
//!   existing struct pointer or map, a later `null` erases a pointer, map or slice and is a no-op on a
//!   bool or string;
//! * a value of the wrong JSON type makes Go's `Decode` fail: we surface that as an error, so the
//!   caller denies (dockerd would refuse such a body too).
//!
//! Where our reading could still differ from Go's we fail instead of guessing: invalid UTF-8, trailing
//! data after the first value, numbers out of range, lone surrogate escapes. Strict is safe here; lax
//! is a bypass.
//!
//! Decoding is a single streaming pass over the bytes with no intermediate tree: unmodelled values are
//! skipped by serde's `IgnoredAny`, which serde_json implements without recursion (a byte stack of the
//! open brackets), so nesting there costs no stack. Go refuses nesting deeper than 10000 anywhere;
//! so do we, with a pre-pass that only bodies long enough to nest that deep need.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// Why a body could not be read the way dockerd reads it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GoJsonError {
    /// The bytes are not UTF-8. Go would silently replace the bad bytes; we refuse to guess.
    #[error("body is not valid UTF-8")]
    InvalidUtf8,
    /// JSON syntax error, wrong value type for a field, or trailing data after the first value.
    #[error("{0}")]
    Syntax(String),
}

/// Compares a Go struct field name (ASCII, as written in dockerd's types) with a JSON object key the
/// way `encoding/json` matches them: exact match, or equal under Unicode simple case folding.
///
/// For an ASCII-letter field name the only non-ASCII runes that fold onto it are U+017F (long s,
/// folds to `s`) and U+212A (Kelvin sign, folds to `k`); every other non-ASCII rune never matches.
pub fn go_name_eq(field: &str, key: &str) -> bool {
    if key.is_ascii() {
        // The common case: ASCII folding is all there is (and lengths must agree).
        return field.eq_ignore_ascii_case(key);
    }
    let mut field_bytes = field.bytes();
    for key_char in key.chars() {
        let Some(f) = field_bytes.next() else {
            return false;
        };
        let folded = match key_char {
            '\u{017F}' => b'S',
            '\u{212A}' => b'K',
            c if c.is_ascii() => (c as u8).to_ascii_uppercase(),
            _ => return false,
        };
        if folded != f.to_ascii_uppercase() {
            return false;
        }
    }
    field_bytes.next().is_none()
}

/// Go's `strings.ToUpper`: per-rune simple upper-casing (so `ſ` becomes `S`, `ı` becomes `I`),
/// which dockerd applies to capability names before it compares them.
pub fn go_to_upper(s: &str) -> String {
    s.chars()
        .map(|c| {
            let mut up = c.to_uppercase();
            match (up.next(), up.next()) {
                (Some(u), None) => u,
                // Multi-rune full mappings (ß → SS) have no simple mapping in Go: kept as is.
                _ => c,
            }
        })
        .collect()
}

/// Decodes the first JSON value of `body` into `target` with Go's semantics.
///
/// Trailing whitespace is allowed; any other trailing byte is an error (dockerd 20.10 ignores it,
/// dockerd 23+ rejects it: refusing is the reading that holds on both).
pub fn decode<T: GoDecode>(body: &[u8], target: &mut T) -> Result<(), GoJsonError> {
    let text = std::str::from_utf8(body).map_err(|_| GoJsonError::InvalidUtf8)?;
    check_depth(body, GO_MAX_DEPTH)?;
    let mut de = serde_json::Deserializer::from_str(text);
    target
        .go_decode(&mut de)
        .and_then(|()| de.end())
        .map_err(|e| GoJsonError::Syntax(e.to_string()))
}

/// Go's `encoding/json` limit on nesting (`maxNestingDepth`): a body nested deeper is refused, even
/// inside values no field takes.
pub const GO_MAX_DEPTH: usize = 10_000;

/// Refuses bodies nested deeper than `max` anywhere, as Go does, including inside values we skip
/// (serde_json skips those without a limit).
///
/// Valid JSON nested `max + 1` deep has at least `2 × (max + 1)` bytes, so shorter bodies (every
/// ordinary request) skip the pass; an invalid one is refused by the parser anyway. Brackets inside
/// strings do not count; string contents, most of a body's bytes, are skipped with `memchr` (to
/// the next `"` or `\`) rather than byte by byte.
fn check_depth(body: &[u8], max: usize) -> Result<(), GoJsonError> {
    if body.len() < 2 * (max + 1) || nesting_within(body, max) {
        Ok(())
    } else {
        Err(GoJsonError::Syntax(format!("nesting deeper than {max}")))
    }
}

/// Whether no bracket of `body` outside strings is nested deeper than `max`.
fn nesting_within(body: &[u8], max: usize) -> bool {
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(&b) = body.get(i) {
        i += 1;
        match b {
            b'"' => {
                // Past the closing quote; an escape skips the byte after the backslash.
                // Unterminated: nothing left to count (the parser refuses it).
                loop {
                    let Some(at) = body
                        .get(i..)
                        .and_then(|rest| memchr::memchr2(b'"', b'\\', rest))
                    else {
                        return true;
                    };
                    i += at + 1;
                    if body[i - 1] == b'"' {
                        break;
                    }
                    i += 1;
                }
            }
            b'{' | b'[' => {
                depth += 1;
                if depth > max {
                    return false;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    true
}

/// A Rust value that a JSON value can be decoded *into*, in place, the way Go decodes into an
/// existing variable (so repeated keys merge or overwrite exactly as in Go).
pub trait GoDecode {
    fn go_decode<'de, D: Deserializer<'de>>(&mut self, de: D) -> Result<(), D::Error>;
}

/// A Go struct type: a fixed list of field names and a way to decode one field in place.
pub trait GoStruct: Default {
    /// The Go struct's JSON field names that we model, in declaration order.
    const FIELDS: &'static [&'static str];
    /// Decodes the value for field `FIELDS[index]` into `self`.
    fn decode_field<'de, D: Deserializer<'de>>(
        &mut self,
        index: usize,
        de: D,
    ) -> Result<(), D::Error>;

    /// Finds the field a key decodes into, as Go does: exact name first, then case-folded, the
    /// first field in declaration order winning.
    fn field_index(key: &str) -> Option<usize> {
        if let Some(exact) = Self::FIELDS.iter().position(|f| *f == key) {
            return Some(exact);
        }
        // Most keys of a real body are fields we do not model: an ASCII key settles on length
        // alone for most names. (A non-ASCII key can match an ASCII field name only through the
        // multi-byte ſ or K, so it takes the full comparison.)
        if key.is_ascii() {
            Self::FIELDS
                .iter()
                .position(|f| f.eq_ignore_ascii_case(key))
        } else {
            Self::FIELDS.iter().position(|f| go_name_eq(f, key))
        }
    }
}

/// Seed that routes one `next_value_seed` call into `GoDecode::go_decode`.
struct Into<'a, T: ?Sized>(&'a mut T);

impl<'de, T: GoDecode + ?Sized> DeserializeSeed<'de> for Into<'_, T> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        self.0.go_decode(de)
    }
}

/// Seed that decodes one struct field by index.
struct FieldInto<'a, T>(&'a mut T, usize);

impl<'de, T: GoStruct> DeserializeSeed<'de> for FieldInto<'_, T> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        self.0.decode_field(self.1, de)
    }
}

/// An object key, borrowed from the input when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        de.deserialize_str(KeyVisitor)
    }
}

/// The fields of a JSON object decoded into a Go struct *value* that already exists.
fn decode_struct_fields<'de, A: MapAccess<'de>, T: GoStruct>(
    target: &mut T,
    mut map: A,
) -> Result<(), A::Error> {
    while let Some(Key(key)) = map.next_key::<Key>()? {
        match T::field_index(&key) {
            Some(index) => map.next_value_seed(FieldInto(target, index))?,
            None => {
                map.next_value::<IgnoredAny>()?;
            }
        }
    }
    Ok(())
}

/// A Go `bool`: `true`/`false` set it, `null` leaves it alone, anything else fails the decode.
impl GoDecode for bool {
    fn go_decode<'de, D: Deserializer<'de>>(&mut self, de: D) -> Result<(), D::Error> {
        struct V<'a>(&'a mut bool);
        impl<'de> Visitor<'de> for V<'_> {
            type Value = ();
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a boolean")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
                *self.0 = v;
                Ok(())
            }
            fn visit_unit<E: de::Error>(self) -> Result<(), E> {
                Ok(())
            }
        }
        de.deserialize_any(V(self))
    }
}

/// A Go `string`: a JSON string sets it, `null` leaves it alone, anything else fails the decode.
impl GoDecode for String {
    fn go_decode<'de, D: Deserializer<'de>>(&mut self, de: D) -> Result<(), D::Error> {
        struct V<'a>(&'a mut String);
        impl<'de> Visitor<'de> for V<'_> {
            type Value = ();
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
                v.clone_into(self.0);
                Ok(())
            }
            fn visit_unit<E: de::Error>(self) -> Result<(), E> {
                Ok(())
            }
        }
        de.deserialize_any(V(self))
    }
}

/// A Go pointer to a struct (`*HostConfig`): `null` sets it to nil; an object allocates it when nil
/// and then decodes *into* it, so a repeated key merges with what an earlier one set.
impl<T: GoStruct> GoDecode for Option<T> {
    fn go_decode<'de, D: Deserializer<'de>>(&mut self, de: D) -> Result<(), D::Error> {
        struct V<'a, T>(&'a mut Option<T>);
        impl<'de, T: GoStruct> Visitor<'de> for V<'_, T> {
            type Value = ();
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object or null")
            }
            fn visit_unit<E: de::Error>(self) -> Result<(), E> {
                *self.0 = None;
                Ok(())
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
                decode_struct_fields(self.0.get_or_insert_with(T::default), map)
            }
        }
        de.deserialize_any(V(self))
    }
}

/// A Go struct embedded by value (not a pointer): `null` is a no-op, an object decodes into it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GoValue<T>(pub T);

impl<T: GoStruct> GoDecode for GoValue<T> {
    fn go_decode<'de, D: Deserializer<'de>>(&mut self, de: D) -> Result<(), D::Error> {
        struct V<'a, T>(&'a mut T);
        impl<'de, T: GoStruct> Visitor<'de> for V<'_, T> {
            type Value = ();
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object or null")
            }
            fn visit_unit<E: de::Error>(self) -> Result<(), E> {
                Ok(())
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
                decode_struct_fields(self.0, map)
            }
        }
        de.deserialize_any(V(&mut self.0))
    }
}

/// A Go `map[string]string` (labels): `null` sets it to nil; an object allocates it when nil and
/// merges its entries into it (later duplicate keys win); an entry whose value is `null` is stored
/// as the empty string, as Go stores the zero value. Map keys are case-sensitive.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GoStringMap(pub Option<FlatStringMap>);

/// The entries of a decoded `map[string]string`, in arrival order, in one buffer: a compose body
/// carries dozens of labels, and a tree of owned strings cost two allocations and an ordered
/// insert per label. A lookup finds the *last* entry with the key, which is the value Go's map
/// ends up holding. Compares as a map (duplicates and order do not matter).
#[derive(Debug, Default, Clone)]
pub struct FlatStringMap {
    text: String,
    /// Per entry: where its key starts, where its value starts (= the key's end), where the value
    /// ends, as offsets into `text`.
    entries: Vec<[usize; 3]>,
}

impl FlatStringMap {
    /// The value the map holds for `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .rev()
            .find(|[k, v, _]| self.text.get(*k..*v) == Some(key))
            .and_then(|[_, v, end]| self.text.get(*v..*end))
    }

    /// Sets `key` to `value` (a later call with the same key wins).
    pub fn insert(&mut self, key: &str, value: &str) {
        let k = self.text.len();
        self.text.push_str(key);
        let v = self.text.len();
        self.text.push_str(value);
        self.entries.push([k, v, self.text.len()]);
    }

    /// The map as Go holds it: one entry per key, with its last value, ordered by key.
    pub fn to_btree(&self) -> BTreeMap<&str, &str> {
        let mut map = BTreeMap::new();
        for &[k, v, end] in &self.entries {
            if let (Some(key), Some(value)) = (self.text.get(k..v), self.text.get(v..end)) {
                map.insert(key, value);
            }
        }
        map
    }

    /// Number of distinct keys.
    pub fn len(&self) -> usize {
        self.to_btree().len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl PartialEq for FlatStringMap {
    fn eq(&self, other: &Self) -> bool {
        self.to_btree() == other.to_btree()
    }
}

impl Eq for FlatStringMap {}

impl<K: AsRef<str>, V: AsRef<str>> FromIterator<(K, V)> for FlatStringMap {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut map = FlatStringMap::default();
        for (k, v) in iter {
            map.insert(k.as_ref(), v.as_ref());
        }
        map
    }
}

impl GoDecode for GoStringMap {
    fn go_decode<'de, D: Deserializer<'de>>(&mut self, de: D) -> Result<(), D::Error> {
        struct V<'a>(&'a mut Option<FlatStringMap>);
        impl<'de> Visitor<'de> for V<'_> {
            type Value = ();
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of strings or null")
            }
            fn visit_unit<E: de::Error>(self) -> Result<(), E> {
                *self.0 = None;
                Ok(())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
                let labels = self.0.get_or_insert_with(FlatStringMap::default);
                // One scratch string for every value: Go decodes each into a fresh zero value
                // (so `null` stores "").
                let mut value = String::new();
                while let Some(Key(key)) = map.next_key::<Key>()? {
                    value.clear();
                    map.next_value_seed(Into(&mut value))?;
                    labels.insert(&key, &value);
                }
                Ok(())
            }
        }
        de.deserialize_any(V(&mut self.0))
    }
}

/// A Go `[]string`: `null` sets it to nil, an array of strings replaces it, anything else fails
/// the decode. A `null` *element* is refused: Go decodes an array into the slice already there,
/// and a `null` element leaves whatever that slice's backing array held at that index (even past
/// its old length), so `["SYS_ADMIN"]` then `[null]` is `["SYS_ADMIN"]` in dockerd. No real client
/// sends null elements; refusing them is exact for everything we accept.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GoStringSlice(pub Option<Vec<String>>);

impl GoDecode for GoStringSlice {
    fn go_decode<'de, D: Deserializer<'de>>(&mut self, de: D) -> Result<(), D::Error> {
        de.deserialize_any(StringSliceVisitor {
            target: &mut self.0,
            accept_string: false,
        })
    }
}

/// A Go slice of structs (`[]mount.Mount`): `null` sets it to nil, an array of objects decodes
/// element by element. Go decodes an array *into* the slice already there, merging each object into
/// the element at its index (stale elements included), so a second array for a slice that already
/// has elements is refused, and so are `null` elements (they would keep whatever that element held).
/// No real client repeats the key; refusing is exact for everything we accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoStructSlice<T>(pub Option<Vec<T>>);

impl<T> Default for GoStructSlice<T> {
    fn default() -> Self {
        GoStructSlice(None)
    }
}

impl<T> GoStructSlice<T> {
    pub fn as_slice(&self) -> &[T] {
        self.0.as_deref().unwrap_or_default()
    }
}

impl<T: GoStruct> GoDecode for GoStructSlice<T> {
    fn go_decode<'de, D: Deserializer<'de>>(&mut self, de: D) -> Result<(), D::Error> {
        struct V<'a, T>(&'a mut Option<Vec<T>>);
        impl<'de, T: GoStruct> Visitor<'de> for V<'_, T> {
            type Value = ();
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of objects or null")
            }
            fn visit_unit<E: de::Error>(self) -> Result<(), E> {
                *self.0 = None;
                Ok(())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
                if self.0.as_ref().is_some_and(|v| !v.is_empty()) {
                    return Err(de::Error::custom(
                        "repeated array of objects (dockerd would merge it into the earlier elements)",
                    ));
                }
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Option<GoValue<T>>>()? {
                    match item {
                        Some(GoValue(item)) => items.push(item),
                        None => {
                            return Err(de::Error::custom(
                                "null element in an array of objects (dockerd would keep an earlier value there)",
                            ))
                        }
                    }
                }
                *self.0 = Some(items);
                Ok(())
            }
        }
        de.deserialize_any(V(&mut self.0))
    }
}

/// A whole Go struct value decoded fresh (an element of a slice of structs): the struct-value
/// decoding above, into a zero value. (`null` never gets here: the slice's `Option` takes it.)
impl<'de, T: GoStruct> de::Deserialize<'de> for GoValue<T> {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        let mut value = GoValue(T::default());
        value.go_decode(de)?;
        Ok(value)
    }
}

/// A Go pointer to a struct whose fields we do not read (`PluginSpec`): only whether it is set.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Opaque;

impl GoStruct for Opaque {
    const FIELDS: &'static [&'static str] = &[];
    fn decode_field<'de, D: Deserializer<'de>>(&mut self, _: usize, de: D) -> Result<(), D::Error> {
        <IgnoredAny as de::Deserialize>::deserialize(de).map(|_| ())
    }
}

/// dockerd's `strslice.StrSlice` (`CapAdd`, `Cmd`): like `[]string`, but a lone JSON string is also
/// accepted and becomes a one-element slice.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GoStrSlice(pub Option<Vec<String>>);

impl GoDecode for GoStrSlice {
    fn go_decode<'de, D: Deserializer<'de>>(&mut self, de: D) -> Result<(), D::Error> {
        de.deserialize_any(StringSliceVisitor {
            target: &mut self.0,
            accept_string: true,
        })
    }
}

struct StringSliceVisitor<'a> {
    target: &'a mut Option<Vec<String>>,
    accept_string: bool,
}

impl<'de> Visitor<'de> for StringSliceVisitor<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of strings or null")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        *self.target = None;
        Ok(())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        if !self.accept_string {
            return Err(E::invalid_type(de::Unexpected::Str(v), &self));
        }
        *self.target = Some(vec![v.to_owned()]);
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Option<String>>()? {
            match item {
                Some(item) => items.push(item),
                // StrSlice decodes into a fresh slice: a null element is the zero value "".
                None if self.accept_string => items.push(String::new()),
                None => return Err(de::Error::custom(
                    "null element in a string array (dockerd would keep an earlier value there)",
                )),
            }
        }
        *self.target = Some(items);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
