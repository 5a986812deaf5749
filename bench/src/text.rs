//! Scenario 10's message texts and search queries.
//!
//! Texts are sentences over a vocabulary of about 3,600 words drawn with Zipf frequencies (rank `r`
//! has weight `1 / (r + 1)`, as words in real text): function words first, then everyday and
//! hospitality words with accented ones (`Café`, `naïve`) and other scripts (`東京`, `Привет`)
//! among them, then a tail of made-up names and places; some sentences follow templates of what
//! guests and staff write (booking references, times, dates). Every text is a function of its
//! conversation and position alone, so each run seeds the same log.
//!
//! Every conversation also holds the [`ANCHORS`], spread over it, so that the probe queries
//! ([`Expect::Results`]) have results for every customer, not only for admins.

use std::collections::HashSet;
use std::sync::OnceLock;

/// SplitMix64: small, fast and seedable (the texts must be the same from run to run).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The generator of message `k` of conversation `conv`.
    pub fn at(conv: usize, k: usize) -> Rng {
        let mut r = Rng::new(((conv as u64) << 32) ^ k as u64);
        r.next_u64();
        r
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())]
    }
}

/// The most frequent words, in rank order.
const FUNCTION: &str = "the to and a of you I we is for in on it be your at this that with our \
    have can will are please my as if not would could from so do there by an me us what just all \
    get when up about any also one some out no more was then now here need like know how us";

/// Everyday words.
const COMMON: &str = "hello hi dear thanks thank sorry great good nice lovely perfect wonderful \
    problem issue question help possible available open closed ready sure course happy arrive \
    arriving arrived leave leaving left stay staying stayed book booked send sent receive received \
    confirm confirmed call called ask asked wait waiting see seen find found take took bring \
    brought keep kept give given make made come coming came go going went let tell told think \
    want wanted try tried use used work working works pay paid change changed include included \
    recommend recommended enjoy enjoyed love loved hope hoping already still again soon later \
    early late first last next few many much every other another same new old small big large \
    long short quick fast slow hot cold warm clean dirty quiet noisy cheap expensive free busy \
    friend friends family husband wife son daughter parents group guests guest people person \
    name phone number email message address day days hour hours minute minutes moment way place \
    thing things information details question answer reply news plan plans trip holiday vacation \
    visit city town street area centre center walk walking distance near nearby far close around \
    left right inside outside downstairs upstairs between before after during until while since \
    really very quite maybe perhaps probably definitely unfortunately luckily hopefully exactly \
    anything something nothing everything someone everyone anyone either both each own sure okay";

/// The trade's words (hotels, trips); several start with `chec` and `break`, for the prefixes.
const DOMAIN: &str = "hotel room rooms suite bed beds pillow pillows blanket towel towels \
    breakfast brunch lunch dinner restaurant bar menu table reservation reservations booking \
    bookings check checked checking checkout checkin cheque arrival departure flight flights \
    airport transfer transfers taxi shuttle car rental parking garage luggage bags suitcase \
    lobby reception desk concierge staff manager key card keys wifi password pool spa gym sauna \
    massage treatment beach view balcony terrace rooftop floor elevator lift stairs minibar \
    fridge coffee tea water bottle wine champagne cake birthday anniversary honeymoon kids \
    children baby crib cot extra upgrade invoice receipt refund deposit payment charge charged \
    price rate discount voucher cancel cancellation cancelled dates night nights week weekend \
    today tomorrow tonight morning afternoon evening monday tuesday wednesday thursday friday \
    saturday sunday january february march april may june july august september october \
    november december noise air conditioning heating shower bathroom bathtub toilet sink \
    hairdryer iron laundry cleaning housekeeping tour tours guide museum tickets ticket train \
    station bus ferry boat island harbour old market shopping vegetarian vegan gluten allergy \
    allergies nuts dog pet wheelchair accessible adults adult single double twin queen king \
    sea garden mountain lake ski skiing hiking bike bikes rent sunbeds umbrella dress code \
    smoking safe slippers robe bathrobe amenities toiletries shampoo soap socket adapter charger \
    tv remote window curtains door lock stay overnight delay delayed cancelled gate terminal \
    passport visa id document documents form signature deposit bill tip service included";

/// Accented words (their folded forms are queried: `cafe` for `Café`).
const ACCENTED: &str = "Café café naïve résumé crème brûlée façade jalapeño piñata smörgåsbord \
    über déjà fiancée entrée soirée señor señora Zürich Málaga São Genève Kraków Reykjavík \
    Montréal Bogotá Curaçao Düsseldorf München Tromsø Córdoba Açores crêpes pâtisserie gâteau \
    rosé purée sauté flambé Ålesund Łódź Ðakovo Čačak Bratislavă Québec";

/// Words of other scripts.
const OTHER_SCRIPTS: &str =
    "東京 大阪 京都 北京 上海 你好 谢谢 ありがとう こんにちは 서울 감사합니다 \
    Привет Спасибо Москва Пожалуйста Добрый Αθήνα καλημέρα ευχαριστώ שלום תודה مرحبا شكرا \
    नमस्ते धन्यवाद दिल्ली";

/// Syllables of the made-up tail (names, places, brands): all lower-case Latin, never `zq`.
const SYLLABLES: [&str; 32] = [
    "ka", "lo", "ri", "ven", "tor", "mi", "sa", "del", "an", "bra", "el", "quin", "gor", "ul",
    "fe", "ni", "sto", "mar", "ys", "ti", "ro", "cha", "bel", "dun", "ex", "pa", "vi", "lu", "the",
    "os", "wen", "har",
];

/// How many made-up words the tail has.
const MADE_UP: usize = 3000;

/// Fixed messages every conversation holds (sender, text), spread over it.
pub const ANCHORS: [(Sender, &str); 5] = [
    (
        Sender::Customer,
        "Привет! We land in 東京 on Friday morning; could you book an airport transfer for two?",
    ),
    (
        Sender::Admin,
        "Of course! The airport transfer is booked, and breakfast is included from 07:00.",
    ),
    (
        Sender::Customer,
        "Could we get a late check-out on Sunday? Our flight is only at 19:00.",
    ),
    (
        Sender::Customer,
        "Sorry if this is a naïve question: is the Café on the rooftop open for breakfast?",
    ),
    (
        Sender::Admin,
        "Yes, the Café opens at 07:00, and your late check-out until 14:00 is confirmed.",
    ),
];

/// Who sends a message: the conversation's customer, or the admin who answers them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sender {
    Customer,
    Admin,
}

/// The words in rank order and the cumulative Zipf weights.
pub struct Vocabulary {
    words: Vec<String>,
    cumulative: Vec<f64>,
}

impl Vocabulary {
    fn build() -> Vocabulary {
        let mut words: Vec<String> = Vec::new();
        let mut seen = HashSet::new();
        let mut add = |w: &str, words: &mut Vec<String>| {
            if seen.insert(w.to_string()) {
                words.push(w.to_string());
            }
        };
        for w in FUNCTION.split_whitespace() {
            add(w, &mut words);
        }
        // The middle ranks: domain and everyday words alternating, an accented word every 12th
        // and another script's every 17th.
        let (mut domain, mut common) = (DOMAIN.split_whitespace(), COMMON.split_whitespace());
        let (mut accented, mut other) = (
            ACCENTED.split_whitespace(),
            OTHER_SCRIPTS.split_whitespace(),
        );
        let mut i = 0usize;
        loop {
            i += 1;
            let next = if i.is_multiple_of(12) {
                accented.next()
            } else if i.is_multiple_of(17) {
                other.next()
            } else if i.is_multiple_of(2) {
                domain.next().or_else(|| common.next())
            } else {
                common.next().or_else(|| domain.next())
            };
            match next {
                Some(w) => add(w, &mut words),
                None => {
                    let rest: Vec<&str> = domain
                        .by_ref()
                        .chain(common.by_ref())
                        .chain(accented.by_ref())
                        .chain(other.by_ref())
                        .collect();
                    if rest.is_empty() {
                        break;
                    }
                    for w in rest {
                        add(w, &mut words);
                    }
                }
            }
        }
        let mut rng = Rng::new(0x5EED);
        let target = words.len() + MADE_UP;
        while words.len() < target {
            let n = 2 + rng.below(3);
            let mut w: String = (0..n).map(|_| rng.pick(&SYLLABLES)).collect();
            if rng.chance(0.3) {
                w = capitalized(&w);
            }
            add(&w, &mut words);
        }
        let mut total = 0.0;
        let cumulative = (0..words.len())
            .map(|r| {
                total += 1.0 / (r as f64 + 1.0);
                total
            })
            .collect();
        Vocabulary { words, cumulative }
    }

    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn word(&self, rank: usize) -> &str {
        &self.words[rank]
    }

    /// A word drawn with Zipf frequencies.
    pub fn draw(&self, rng: &mut Rng) -> &str {
        let total = *self.cumulative.last().expect("a vocabulary");
        let x = rng.unit() * total;
        let r = self.cumulative.partition_point(|&c| c <= x);
        &self.words[r.min(self.words.len() - 1)]
    }
}

/// The one vocabulary.
pub fn vocabulary() -> &'static Vocabulary {
    static V: OnceLock<Vocabulary> = OnceLock::new();
    V.get_or_init(Vocabulary::build)
}

fn capitalized(w: &str) -> String {
    let mut c = w.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

const TEMPLATES: [&str; 26] = [
    "Could we get {thing} on {day}?",
    "Hi, we land at {time} on {day}; is {thing} possible?",
    "Your booking {ref} is confirmed for {date}.",
    "Thank you {name}, the {place} was {adj}!",
    "Is the {place} open after {time}?",
    "We are {n} adults and {n} children, arriving from {city} on {date}.",
    "I would like to book {thing} for {time}, please.",
    "The room is {adj}, but the wifi in the {place} keeps dropping.",
    "Please charge {thing} to room {room}.",
    "Can you recommend a restaurant near the {place}? Something {adj}.",
    "Good morning {name}, we have arranged {thing} for {day} at {time}.",
    "My flight from {city} is delayed, we will check in around {time}.",
    "Could you send me the invoice for {ref}?",
    "We left a {item} in room {room}, could housekeeping have a look?",
    "Sorry for the late reply, {name}: {thing} on {day} works for us.",
    "How much is {thing}? The website said €{price}.",
    "Our check-out is on {date}, could we keep the luggage until {time}?",
    "Is there parking near the hotel? We arrive by car from {city}.",
    "Happy birthday {name}! A cake and {thing} are waiting in your room.",
    "The air conditioning in room {room} is not working.",
    "Do you have a vegan or gluten-free option at breakfast?",
    "Merci {name}! À bientôt à {city}.",
    "Gracias, señora {name}, hasta el {day}.",
    "Спасибо! До встречи в {city}.",
    "ありがとうございます！{city}でお会いしましょう。",
    "{word} {word} {word}, {word} {word} {place}?",
];

const THINGS: [&str; 18] = [
    "a late check-out",
    "an early check-in",
    "an airport transfer",
    "extra towels",
    "a baby cot",
    "a table for two",
    "room service",
    "a taxi",
    "the shuttle",
    "a bottle of champagne",
    "crème brûlée",
    "a massage",
    "an upgrade",
    "two bikes",
    "a quiet room",
    "breakfast in bed",
    "a café au lait",
    "tickets for the museum",
];

const PLACES: [&str; 12] = [
    "pool",
    "spa",
    "gym",
    "restaurant",
    "bar",
    "Café",
    "rooftop terrace",
    "lobby",
    "beach",
    "sauna",
    "garden",
    "reception",
];

const ADJECTIVES: [&str; 10] = [
    "lovely",
    "perfect",
    "great",
    "a bit noisy",
    "cold",
    "wonderful",
    "délicieux",
    "spotless",
    "cosy",
    "too warm",
];

const CITIES: [&str; 16] = [
    "東京",
    "Zürich",
    "Москва",
    "São Paulo",
    "Kraków",
    "Reykjavík",
    "Paris",
    "Lisbon",
    "서울",
    "Αθήνα",
    "Montréal",
    "Málaga",
    "Berlin",
    "Dubai",
    "北京",
    "New York",
];

const NAMES: [&str; 14] = [
    "Anna",
    "José",
    "Zoë",
    "Björn",
    "François",
    "Søren",
    "Małgorzata",
    "Chloé",
    "Liam",
    "Yuki",
    "Олег",
    "Mehmet",
    "Aoife",
    "Priya",
];

const ITEMS: [&str; 8] = [
    "charger",
    "jacket",
    "passport",
    "teddy bear",
    "pair of sunglasses",
    "book",
    "scarf",
    "laptop",
];

const DAYS: [&str; 9] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
    "tomorrow",
    "tonight",
];

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// A made-up name, or a common one.
fn name(rng: &mut Rng) -> String {
    if rng.chance(0.5) {
        rng.pick(&NAMES).to_string()
    } else {
        let v = vocabulary();
        capitalized(v.word(v.len() - 1 - rng.below(MADE_UP)))
    }
}

fn fill(template: &str, rng: &mut Rng, out: &mut String) {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = open + rest[open..].find('}').expect("a closed slot");
        match &rest[open + 1..close] {
            "thing" => out.push_str(rng.pick(&THINGS)),
            "day" => out.push_str(rng.pick(&DAYS)),
            "time" => {
                let m = [0, 15, 30, 45][rng.below(4)];
                out.push_str(&format!("{:02}:{m:02}", 6 + rng.below(17)));
            }
            "ref" => out.push_str(&format!("BK-{:05}", rng.below(100_000))),
            "date" => {
                let d = 1 + rng.below(28);
                out.push_str(&format!("{d} {}", rng.pick(&MONTHS)));
            }
            "name" => out.push_str(&name(rng)),
            "place" => out.push_str(rng.pick(&PLACES)),
            "adj" => out.push_str(rng.pick(&ADJECTIVES)),
            "n" => out.push_str(&(1 + rng.below(4)).to_string()),
            "city" => out.push_str(rng.pick(&CITIES)),
            "room" => out.push_str(&format!("{}{:02}", 1 + rng.below(9), 1 + rng.below(40))),
            "item" => out.push_str(rng.pick(&ITEMS)),
            "price" => out.push_str(&(20 + rng.below(400)).to_string()),
            "word" => out.push_str(vocabulary().draw(rng)),
            other => unreachable!("unknown slot {other}"),
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
}

/// A sentence of 4 to 16 Zipf-drawn words.
fn free_sentence(rng: &mut Rng, out: &mut String) {
    let v = vocabulary();
    let n = 4 + rng.below(13);
    for i in 0..n {
        let w = v.draw(rng);
        if i == 0 {
            out.push_str(&capitalized(w));
        } else {
            out.push(' ');
            out.push_str(w);
            if i + 1 < n && rng.chance(0.06) {
                out.push(',');
            }
        }
    }
    out.push(rng.pick(&['.', '.', '.', '?', '!']));
}

/// Message `k` (0-based) of conversation `conv`, which holds `per_conv` messages: its sender and
/// text. One of the [`ANCHORS`] at positions `a * per_conv / ANCHORS.len()`; else one to three
/// sentences, 40 % of them on a template, and now and then an emoji.
pub fn message(conv: usize, k: usize, per_conv: usize) -> (Sender, String) {
    let per_conv = per_conv.max(ANCHORS.len());
    for (a, (sender, text)) in ANCHORS.iter().enumerate() {
        if k == a * per_conv / ANCHORS.len() {
            return (*sender, (*text).to_string());
        }
    }
    let mut rng = Rng::at(conv, k);
    let sender = if rng.chance(0.35) {
        Sender::Admin
    } else {
        Sender::Customer
    };
    let sentences = match rng.below(20) {
        0..=9 => 1,
        10..=16 => 2,
        _ => 3,
    };
    let mut text = String::with_capacity(160);
    for s in 0..sentences {
        if s > 0 {
            text.push(' ');
        }
        if rng.chance(0.4) {
            fill(rng.pick(&TEMPLATES), &mut rng, &mut text);
        } else {
            free_sentence(&mut rng, &mut text);
        }
    }
    if rng.chance(0.05) {
        text.push(' ');
        text.push_str(rng.pick(&["🙂", "👍", "🙏", "😊", "🎉"]));
    }
    (sender, text)
}

/// What a query's answer should hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// At least one result, for an admin and for every customer (the [`ANCHORS`] match it).
    Results,
    /// No result for anyone.
    Nothing,
    /// Either (drawn words: a customer's one conversation may not hold them).
    Unknown,
}

/// One search query of the mix.
#[derive(Clone, Debug)]
pub struct Query {
    /// single, two words, phrase, prefix, accent-folded, other script, no match.
    pub kind: &'static str,
    pub q: String,
    pub expect: Expect,
}

/// The mix, 20 slots: 5 single words, 3 of two words, 3 phrases, 3 prefixes, 3 accent-folded, 2
/// in other scripts, 1 that matches nothing. `None` text: drawn from the vocabulary.
const MIX: [(&str, Option<&str>, Expect); 20] = [
    ("single", Some("breakfast"), Expect::Results),
    ("single", None, Expect::Unknown),
    ("single", Some("flight"), Expect::Results),
    ("single", None, Expect::Unknown),
    ("single", Some("transfer"), Expect::Results),
    ("two words", Some("breakfast included"), Expect::Results),
    ("two words", None, Expect::Unknown),
    ("two words", Some("rooftop open"), Expect::Results),
    ("phrase", Some("\"airport transfer\""), Expect::Results),
    ("phrase", Some("\"late check-out\""), Expect::Results),
    ("phrase", Some("\"room service\""), Expect::Unknown),
    ("prefix", Some("chec*"), Expect::Results),
    ("prefix", Some("break*"), Expect::Results),
    ("prefix", None, Expect::Unknown),
    ("accent-folded", Some("cafe"), Expect::Results),
    ("accent-folded", Some("naive"), Expect::Results),
    ("accent-folded", Some("CAFE rooftop"), Expect::Results),
    ("other script", Some("東京"), Expect::Results),
    ("other script", Some("привет"), Expect::Results),
    ("no match", Some("zqxjkv"), Expect::Nothing),
];

/// The `n`th query of client `client`: slot `(client * 7 + n) % 20` of the mix; the drawn words
/// come from ranks 40..1,500 of the vocabulary (past the function words).
pub fn query(client: usize, n: usize) -> Query {
    let (kind, q, expect) = MIX[(client * 7 + n) % MIX.len()];
    let q = match q {
        Some(q) => q.to_string(),
        None => {
            let mut rng = Rng::at(client + 1_000_000, n);
            let v = vocabulary();
            let mut word = || v.word(40 + rng.below(1460.min(v.len() - 40))).to_string();
            match kind {
                "single" => word(),
                "two words" => format!("{} {}", word(), word()),
                _ => {
                    // A prefix: the first 3 or 4 characters of a word of at least 5, and `*`.
                    let w = loop {
                        let w = word();
                        if w.chars().count() >= 5 {
                            break w;
                        }
                    };
                    let keep = 3 + (n % 2);
                    format!("{}*", w.chars().take(keep).collect::<String>())
                }
            }
        }
    };
    Query { kind, q, expect }
}

/// Every kind of the mix, in order.
pub fn kinds() -> Vec<&'static str> {
    let mut kinds: Vec<&str> = MIX.iter().map(|m| m.0).collect();
    kinds.dedup();
    kinds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vocabulary_of_a_few_thousand_words_in_several_scripts() {
        let v = vocabulary();
        assert!((3500..5000).contains(&v.len()), "{}", v.len());
        assert_eq!(v.word(0), "the");
        let words: HashSet<&str> = (0..v.len()).map(|r| v.word(r)).collect();
        assert_eq!(words.len(), v.len(), "no word twice");
        for w in ["Café", "naïve", "東京", "Привет", "breakfast", "check"] {
            assert!(words.contains(w), "{w}");
        }
        assert!(!words.iter().any(|w| w.contains("zq")));
    }

    #[test]
    fn draws_follow_zipf() {
        let v = vocabulary();
        let mut rng = Rng::new(1);
        let n = 200_000;
        let the = (0..n).filter(|_| v.draw(&mut rng) == "the").count() as f64 / n as f64;
        let total: f64 = (1..=v.len()).map(|r| 1.0 / r as f64).sum();
        assert!((the - 1.0 / total).abs() < 0.01, "{the}");
    }

    #[test]
    fn every_conversation_holds_every_anchor_once() {
        for per_conv in [5, 6, 100, 1000, 998] {
            let texts: Vec<(Sender, String)> =
                (0..per_conv).map(|k| message(3, k, per_conv)).collect();
            for (sender, anchor) in ANCHORS {
                let n = texts
                    .iter()
                    .filter(|(s, t)| t == anchor && *s == sender)
                    .count();
                assert_eq!(n, 1, "{anchor} in {per_conv}");
            }
        }
    }

    #[test]
    fn texts_are_varied_repeatable_and_of_a_realistic_length() {
        let n = 20_000;
        let texts: Vec<String> = (0..n).map(|k| message(k % 100, k / 100, 200).1).collect();
        assert_eq!(
            texts[1234],
            message(34, 12, 200).1,
            "a function of its place"
        );
        let distinct: HashSet<&String> = texts.iter().collect();
        assert!(distinct.len() > n * 9 / 10, "{}", distinct.len());
        let mean = texts.iter().map(String::len).sum::<usize>() as f64 / n as f64;
        assert!((50.0..200.0).contains(&mean), "mean {mean} bytes");
        let admins = (0..n)
            .filter(|&k| message(k % 100, k / 100, 200).0 == Sender::Admin)
            .count();
        assert!((n / 4..n / 2).contains(&admins), "{admins}");
        let all = texts.concat();
        for needle in ["é", "東京", "BK-", "check-out", "?"] {
            assert!(all.contains(needle), "{needle}");
        }
        assert!(!all.contains('{'), "every slot filled");
    }

    #[test]
    fn the_mix_of_queries() {
        assert_eq!(
            kinds(),
            [
                "single",
                "two words",
                "phrase",
                "prefix",
                "accent-folded",
                "other script",
                "no match"
            ]
        );
        let qs: Vec<Query> = (0..200).map(|n| query(n / 50, n % 50)).collect();
        for q in &qs {
            assert!(!q.q.is_empty() && q.q.chars().count() <= 200, "{q:?}");
            match q.kind {
                "prefix" => assert!(q.q.ends_with('*') && q.q.chars().count() >= 4, "{q:?}"),
                "two words" => assert_eq!(q.q.split(' ').count(), 2, "{q:?}"),
                _ => {}
            }
        }
        for kind in kinds() {
            assert!(qs.iter().any(|q| q.kind == kind), "{kind}");
        }
        // The probes' words are in the anchors, as written or folded.
        let anchors = ANCHORS.map(|a| a.1.to_lowercase()).join(" ");
        for q in qs.iter().filter(|q| q.expect == Expect::Results) {
            for w in q.q.trim_matches('"').split(' ') {
                let w = w
                    .trim_end_matches('*')
                    .to_lowercase()
                    .replace("cafe", "café")
                    .replace("naive", "naïve");
                assert!(anchors.contains(&w), "{w} of {q:?}");
            }
        }
    }
}
