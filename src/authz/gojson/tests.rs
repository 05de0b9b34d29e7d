//! Table tests of Go's decoding semantics: key folding, merges, nulls, depth, strings, slices.

use super::*;

#[derive(Debug, Default, PartialEq)]
struct Inner {
    flag: bool,
    name: String,
}
impl GoStruct for Inner {
    const FIELDS: &'static [&'static str] = &["Flag", "Name"];
    fn decode_field<'de, D: Deserializer<'de>>(
        &mut self,
        index: usize,
        de: D,
    ) -> Result<(), D::Error> {
        match index {
            0 => self.flag.go_decode(de),
            _ => self.name.go_decode(de),
        }
    }
}

#[derive(Debug, Default, PartialEq)]
struct Outer {
    inner: Option<Inner>,
    labels: GoStringMap,
    caps: GoStrSlice,
    list: GoStringSlice,
    by_value: GoValue<Inner>,
}
impl GoStruct for Outer {
    const FIELDS: &'static [&'static str] = &["Inner", "Labels", "Caps", "List", "ByValue"];
    fn decode_field<'de, D: Deserializer<'de>>(
        &mut self,
        index: usize,
        de: D,
    ) -> Result<(), D::Error> {
        match index {
            0 => self.inner.go_decode(de),
            1 => self.labels.go_decode(de),
            2 => self.caps.go_decode(de),
            3 => self.list.go_decode(de),
            _ => self.by_value.go_decode(de),
        }
    }
}

fn outer(body: &str) -> Result<Outer, GoJsonError> {
    let mut v = GoValue(Outer::default());
    decode(body.as_bytes(), &mut v).map(|()| v.0)
}

fn flag(body: &str) -> Option<bool> {
    outer(body).unwrap().inner.map(|i| i.flag)
}

#[test]
fn name_folding_matches_go() {
    // (field, key, Go's verdict)
    let cases = [
        ("ReadonlyRootfs", "ReadonlyRootfs", true),
        ("ReadonlyRootfs", "readonlyrootfs", true),
        ("ReadonlyRootfs", "READONLYROOTFS", true),
        ("ReadonlyRootfs", "ReadonlyRootf\u{017F}", true), // long s folds to s
        ("ReadonlyRootfs", "\u{017F}", false),
        ("Labels", "Label\u{017F}", true),
        ("Kind", "\u{212A}ind", true), // Kelvin sign folds to k
        ("Kind", "\u{212A}IND", true),
        ("Privileged", "Pr\u{0131}vileged", false), // dotless i is its own fold class
        ("Privileged", "PR\u{0130}VILEGED", false), // dotted capital I too
        ("ReadonlyRootfs", "ReadonlyRootfs ", false),
        ("ReadonlyRootfs", "ReadonlyRootf", false),
        ("ReadonlyRootfs", "Readonly_Rootfs", false),
        ("Labels", "Labe1s", false),
        ("Labels", "Labels\u{0}", false),
        ("Image", "\u{FF29}mage", false), // fullwidth I does not fold to ASCII
        ("CapAdd", "capadd", true),
        ("CapAdd", "CAPADD", true),
    ];
    for (field, key, want) in cases {
        assert_eq!(go_name_eq(field, key), want, "{field} vs {key:?}");
    }
}

#[test]
fn only_long_s_and_kelvin_fold_onto_ascii_letters() {
    // Exhaustive over every Unicode scalar: a non-ASCII rune matches an ASCII letter field only
    // if it is one of the two runes whose simple-fold orbit contains an ASCII letter.
    for c in (0x80u32..=0x10FFFF).filter_map(char::from_u32) {
        let key = c.to_string();
        for letter in ('A'..='Z').map(|l| l.to_string()) {
            let matched = go_name_eq(&letter, &key);
            let expected = (c == '\u{017F}' && letter == "S") || (c == '\u{212A}' && letter == "K");
            assert_eq!(matched, expected, "{c:?} vs {letter}");
        }
    }
}

#[test]
fn later_scalar_overwrites_earlier() {
    assert_eq!(flag(r#"{"Inner":{"Flag":true,"flag":false}}"#), Some(false));
    assert_eq!(flag(r#"{"Inner":{"flag":false,"FLAG":true}}"#), Some(true));
}

#[test]
fn null_on_bool_is_a_no_op() {
    assert_eq!(flag(r#"{"Inner":{"Flag":true,"Flag":null}}"#), Some(true));
}

#[test]
fn repeated_struct_objects_merge() {
    let o = outer(r#"{"Inner":{"Flag":true},"inner":{"Name":"x"}}"#).unwrap();
    assert_eq!(
        o.inner,
        Some(Inner {
            flag: true,
            name: "x".into()
        })
    );
}

#[test]
fn later_null_erases_struct_pointer() {
    assert_eq!(flag(r#"{"Inner":{"Flag":true},"INNER":null}"#), None);
    // ... and a later object starts again from zero.
    assert_eq!(
        flag(r#"{"Inner":{"Flag":true},"Inner":null,"Inner":{}}"#),
        Some(false)
    );
}

#[test]
fn null_on_struct_value_is_a_no_op() {
    let o = outer(r#"{"ByValue":{"Flag":true},"byvalue":null}"#).unwrap();
    assert!(o.by_value.0.flag);
}

#[test]
fn maps_merge_and_null_erases() {
    let o = outer(r#"{"Labels":{"a":"1","b":"2"},"labels":{"b":"3"}}"#).unwrap();
    let labels = o.labels.0.unwrap();
    assert_eq!(labels.to_btree(), BTreeMap::from([("a", "1"), ("b", "3")]));
    assert_eq!(labels.len(), 2);
    assert_eq!(labels, [("b", "3"), ("a", "1")].into_iter().collect());
    assert_eq!(
        outer(r#"{"Labels":{"k":"v"},"labels":null}"#)
            .unwrap()
            .labels
            .0,
        None
    );
}

#[test]
fn map_keys_are_case_sensitive_and_null_values_become_empty() {
    let o = outer(r#"{"Labels":{"K":"v","k":null,"k2":"x","k2":"y"}}"#).unwrap();
    let labels = o.labels.0.unwrap();
    assert_eq!(labels.get("K"), Some("v"));
    assert_eq!(labels.get("k"), Some(""));
    assert_eq!(labels.get("k2"), Some("y"));
    assert_eq!(labels.get("K2"), None);
    assert_eq!(labels.len(), 3);
    // Escaped keys and values are stored unescaped; "" is a key like any other.
    let o = outer(r#"{"Labels":{"a\u0062":"\"x\"","":"e","ab":"y"}}"#).unwrap();
    let labels = o.labels.0.unwrap();
    assert_eq!(labels.get("ab"), Some("y"));
    assert_eq!(labels.get(""), Some("e"));
    assert_eq!(labels.get("a"), None);
    // An empty object makes an empty, non-nil map.
    let o = outer(r#"{"Labels":{}}"#).unwrap();
    assert!(o.labels.0.is_some_and(|l| l.is_empty()));
}

#[test]
fn strslice_accepts_string_or_array_and_replaces() {
    let caps = |b: &str| outer(b).unwrap().caps.0;
    assert_eq!(
        caps(r#"{"Caps":"SYS_ADMIN"}"#),
        Some(vec!["SYS_ADMIN".into()])
    );
    assert_eq!(
        caps(r#"{"Caps":["A"],"caps":["B",null]}"#),
        Some(vec!["B".into(), "".into()])
    );
    assert_eq!(caps(r#"{"Caps":["A"],"caps":null}"#), None);
    assert!(outer(r#"{"Caps":[1]}"#).is_err());
    assert!(outer(r#"{"List":"x"}"#).is_err());
    // Plain []string: later arrays replace, null elements are refused (Go would keep the
    // earlier backing-array value at that index: found by the Go oracle).
    assert_eq!(
        outer(r#"{"List":["A","B"],"list":["C"]}"#).unwrap().list.0,
        Some(vec!["C".to_string()])
    );
    assert!(outer(r#"{"List":["SYS_ADMIN"],"List":[null]}"#).is_err());
    assert!(outer(r#"{"List":[null]}"#).is_err());
}

#[test]
fn wrong_types_fail_the_decode() {
    for body in [
        r#"{"Inner":{"Flag":"true"}}"#,
        r#"{"Inner":{"Flag":1}}"#,
        r#"{"Inner":{"Flag":{}}}"#,
        r#"{"Inner":true}"#,
        r#"{"Inner":[]}"#,
        r#"{"Labels":{"k":1}}"#,
        r#"{"Labels":[]}"#,
        r#"{"Inner":{"Name":false}}"#,
    ] {
        assert!(outer(body).is_err(), "{body}");
    }
}

#[test]
fn unknown_keys_are_skipped_whatever_their_shape() {
    let o = outer(r#"{"X":{"a":[1,2.5e3,{"b":null}]},"Inner":{"Flag":true,"Y":"z"}}"#);
    assert!(o.unwrap().inner.unwrap().flag);
}

#[test]
fn escaped_keys_are_unescaped_before_matching() {
    assert_eq!(flag(r#"{"\u0049nner":{"Fl\u0061g":true}}"#), Some(true));
    assert_eq!(flag(r#"{"Inner":{"Fla\u0067":true}}"#), Some(true));
    assert_eq!(flag("{\"Inner\":{\"Fla\\u017f\":true}}"), Some(false)); // ſ ≠ g
}

#[test]
fn only_the_first_value_counts_and_trailing_data_is_refused() {
    assert!(outer("{}\n").is_ok());
    assert!(outer("{} \t\r\n").is_ok());
    assert!(outer("{}{}").is_err());
    assert!(outer("{} x").is_err());
}

#[test]
fn malformed_input_is_an_error() {
    for body in [
        &b""[..],
        b"{",
        b"\xEF\xBB\xBF{}", // BOM: Go rejects it
        b"{\"Inner\":{\"Name\":\"\xff\"}}",
        b"{\"Inner\":{\"Name\":\"a\nb\"}}",
        b"{'a':1}",
        b"{\"a\":01}",
        b"{\"a\":1,}",
    ] {
        let mut v = GoValue(Outer::default());
        assert!(
            decode(body, &mut v).is_err(),
            "{:?}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn nesting_is_refused_beyond_go_s_limit_and_never_a_stack_overflow() {
    let arrays = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
    let objects = |n: usize| format!("{}1{}", r#"{"a":"#.repeat(n), "}".repeat(n));
    // In a value we skip, as deep as Go reads (the outer object is one level): no recursion.
    for depth in [128, 129, GO_MAX_DEPTH - 1] {
        for deep in [arrays(depth), objects(depth)] {
            let body = format!(r#"{{"X":{deep},"Inner":{{"Flag":true}}}}"#);
            assert_eq!(flag(&body), Some(true), "depth {depth}");
        }
    }
    // One level more than Go reads, and far more: refused like Go refuses it.
    for depth in [GO_MAX_DEPTH, 100_000] {
        for deep in [arrays(depth), objects(depth)] {
            assert!(
                outer(&format!(r#"{{"X":{deep}}}"#)).is_err(),
                "depth {depth}"
            );
        }
    }
    // Unbalanced deep nesting is a syntax error, not a crash.
    assert!(outer(&format!(r#"{{"X":{}}}"#, "[".repeat(100_000))).is_err());
    // Brackets inside strings do not count.
    assert!(outer(&format!(r#"{{"X":"{}\""}}"#, "[".repeat(30_000))).is_ok());
    // Where we decode, the models are a few levels deep: nesting beyond them is a type error.
    assert!(outer(&format!(r#"{{"Caps":{}}}"#, arrays(100_000))).is_err());
    assert!(outer(&format!(r#"{{"Labels":{}}}"#, objects(100_000))).is_err());
}

#[test]
fn only_bodies_long_enough_to_nest_too_deep_take_the_depth_pass() {
    // The shallowest valid body nested max + 1 deep is max + 1 brackets each way: it is long
    // enough to be checked, and refused; one byte less cannot hold it.
    for max in [1, 2, 128, GO_MAX_DEPTH] {
        let too_deep = format!("{}{}", "[".repeat(max + 1), "]".repeat(max + 1));
        assert_eq!(too_deep.len(), 2 * (max + 1));
        assert!(check_depth(too_deep.as_bytes(), max).is_err(), "max {max}");
        let deepest = format!("{}{}", "[".repeat(max), "]".repeat(max));
        assert!(check_depth(deepest.as_bytes(), max).is_ok(), "max {max}");
    }
}

/// The byte-by-byte depth check `nesting_within` replaced, as the reference it must agree with.
fn nesting_within_bytewise(body: &[u8], max: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in body {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
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

#[test]
fn depth_check_agrees_with_the_bytewise_reference() {
    // Random bodies over the bytes that matter, dense in brackets, quotes and escapes, and
    // long enough to cross a limit of 128; a fixed-seed LCG so failures reproduce.
    let alphabet = b"{}[]\"\\a:,";
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as usize
    };
    let mut refused = 0;
    for case in 0..20_000 {
        let mut body = Vec::new();
        if case % 3 == 0 {
            // Raw bytes: odd escapes, stray and unterminated quotes.
            for _ in 0..next() % 400 {
                body.push(alphabet[next() % alphabet.len()]);
            }
        } else {
            // Tokens: mostly openings (to cross the limit), some closings, and strings whose
            // contents hold brackets, quotes and escapes; now and then a lone backslash.
            for _ in 0..next() % 600 {
                match next() % 20 {
                    0..=10 => body.push(b"[{"[next() % 2]),
                    11..=12 => body.push(b"]}"[next() % 2]),
                    13..=18 => {
                        body.push(b'"');
                        for _ in 0..next() % 12 {
                            match next() % 6 {
                                0 => body.extend_from_slice(b"\\\""),
                                1 => body.extend_from_slice(b"\\\\"),
                                _ => body.push(alphabet[next() % alphabet.len()]),
                            }
                        }
                        body.push(b'"');
                    }
                    _ => body.push(b'\\'),
                }
            }
        }
        let ok = nesting_within_bytewise(&body, 128);
        assert_eq!(
            nesting_within(&body, 128),
            ok,
            "{}",
            String::from_utf8_lossy(&body)
        );
        refused += usize::from(!ok);
    }
    // Both outcomes are exercised.
    assert!((500..19_500).contains(&refused), "{refused} refused");
    for body in [
        &b"\"\\\"[[["[..], // "\"[[[ : an escaped quote, the string goes on
        b"\"abc\\",        // "abc\ : unterminated after an escape
        b"\"\\\\\"[",      // "\\"[ : an escaped backslash, then the closing quote
        b"[\"]\\\"]\"]",   // ["]\"]"]
        b"",
    ] {
        assert_eq!(
            nesting_within(body, 128),
            nesting_within_bytewise(body, 128)
        );
    }
}

#[test]
fn go_to_upper_uses_simple_mappings() {
    assert_eq!(go_to_upper("\u{017F}ys_admin"), "SYS_ADMIN");
    assert_eq!(go_to_upper("sys_adm\u{0131}n"), "SYS_ADMIN");
    assert_eq!(go_to_upper("stra\u{DF}e"), "STRA\u{DF}E");
}
