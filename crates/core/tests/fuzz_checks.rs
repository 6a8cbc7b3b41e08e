//! The fuzz targets' properties (`fuzz/src/checks.rs`) on stable, inside `make test`: over
//! hand-picked hostile seeds, then over deterministic pseudo-random mutations of them. `make
//! fuzz` explores much further with libFuzzer; whatever it finds becomes a seed here and a named
//! case in the core's table tests.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../../fuzz/src/checks.rs"]
mod checks;

const ROUNDS: usize = 4_000;

/// xorshift64*: deterministic, so a failure here reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n.max(1)).unwrap()).unwrap()
    }
}

/// Bytes that matter to the parsers under test.
const INTERESTING: &[&[u8]] = &[
    b"%",
    b"%2e",
    b"%2E",
    b"%2f",
    b"%5c",
    b"%25",
    b"%00",
    b"/",
    b"//",
    b"..",
    b".",
    b";",
    b"?",
    b"#",
    b"&",
    b"=",
    b"+",
    b"[",
    b"]",
    b"\\",
    b"\xff",
    b"\xc3\xa9",
    b" ",
    b"\t",
    b",",
    b":",
    b"\"",
    b"{",
    b"}",
    b"amount",
    b"currency",
    b"usd",
    b"jpy",
    b"To",
    b"Body",
    b"to",
    b"cc",
    b"vk_",
    b"Bearer ",
    b"Basic ",
    b"99999999999999999999",
    b"-1",
];

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut out = seed.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(4) {
            0 => {
                let piece = INTERESTING[rng.below(INTERESTING.len())];
                out.splice(at..at, piece.iter().copied());
            }
            1 if at < out.len() => {
                out.remove(at);
            }
            2 if at < out.len() => {
                out[at] = u8::try_from(rng.next() & 0xff).unwrap();
            }
            _ => out.truncate(at),
        }
    }
    out
}

fn run(name: &str, seeds: &[&[u8]], check: fn(&[u8])) {
    for seed in seeds {
        check(seed);
    }
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ u64::try_from(name.len()).unwrap());
    for _ in 0..ROUNDS {
        let seed = seeds[rng.below(seeds.len())];
        let input = mutate(&mut rng, seed);
        check(&input);
    }
}

#[test]
fn path_normalizer_and_matcher() {
    run(
        "path",
        &[
            b"/stripe/v1/payment_intents",
            b"//stripe/./v1/../v1/customers/cus_1/?expand[]=x#frag",
            b"/stripe/v1/customers/%2e%2E/refunds",
            b"/stripe/v1%2Fcustomers",
            b"/stripe/v1/customers;x=1",
            b"/../x",
            b"GET /v1/customers/*",
            b"post /2010-04-01/Accounts/*/Messages.json",
            b"http://api.stripe.com/v1",
            b"",
        ],
        checks::path,
    );
}

#[test]
fn authorization_parser_and_header_screen() {
    run(
        "authorization",
        &[
            b"Bearer vk_0123456789abcdef_00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
            b"Basic dmtfMDEyMzQ1Njc4OWFiY2RlZl86",
            b"bearer  \t x,Bearer y",
            b"authorization:Bearer a\nx-api-key:vk_0123456789abcdef_00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n:path:/x?k=%76k_",
            b"authorization:Basic QUMxOnNlY3JldA==\nauthorization:Bearer b\nx-keybrake-x:1",
            b"Basic \xff\xfe",
        ],
        checks::authorization,
    );
}

#[test]
fn form_cost_parsers() {
    run(
        "form_cost",
        &[
            b"\x00amount=1000&currency=usd",
            b"\x01amount=1&%61mount=5&currency=usd",
            b"\x02amount=99999999999999999999&currency=jpy",
            b"\x03To=%2B15558675310&Body=hello&MediaUrl=x",
            b"\x04To=%2B1&TimeLimit=61&amount[]=1",
            b"\x05metadata[amount]=1&amount=+1&currency=USD",
        ],
        checks::form_cost,
    );
}

#[test]
fn json_cost_and_body_decoders() {
    run(
        "json_cost",
        &[
            br#"{"to":["a@x.y","b@x.y"],"cc":"c@x.y"}"#,
            br#"[{"to":"a@x.y"},{"to":"b@x.y","to":"c@x.y"}]"#,
            b"\x01{\"amount\":1000,\"currency\":\"usd\",\"price\":\"-0.0083\"}",
            b"\x02\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03",
            b"\x03x\x9c\x03\x00\x00\x00\x00\x01",
        ],
        checks::json_cost,
    );
}
