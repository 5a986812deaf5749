//! The text analysis search shares between indexing, queries and highlights: Unicode word
//! segmentation (UAX #29, any script), then case and accents folded, so that `cafe` finds `Café`.

use std::borrow::Cow;
use unicode_normalization::{char::is_combining_mark, UnicodeNormalization};
use unicode_segmentation::UnicodeSegmentation;

/// Words longer than this many bytes are not indexed (nor searchable): they are not words.
const LONGEST_WORD: usize = 100;

/// One word of a text: its byte range in the text and its folded form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word<'a> {
    pub start: usize,
    pub end: usize,
    pub folded: Cow<'a, str>,
}

/// The words of `text` the index holds, in order, each with its byte range and folded form.
pub fn words(text: &str) -> impl Iterator<Item = Word<'_>> + '_ {
    segments(text).filter(|w| w.end - w.start <= LONGEST_WORD)
}

/// Every word of `text`, however long: a query's words (an overlong one finds nothing, as it is
/// not indexed, rather than being dropped from the query).
pub fn segments(text: &str) -> impl Iterator<Item = Word<'_>> + '_ {
    text.unicode_word_indices().filter_map(|(start, word)| {
        let folded = fold(word);
        (!folded.is_empty()).then(|| Word {
            start,
            end: start + word.len(),
            folded,
        })
    })
}

/// A word compared without case or accents: compatibility decomposition, combining marks
/// dropped, lower case. Borrowed when already so (most words: highlighting a result folds each).
pub fn fold(word: &str) -> Cow<'_, str> {
    if word.is_ascii() {
        return if word.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(word.to_ascii_lowercase())
        } else {
            Cow::Borrowed(word)
        };
    }
    word.nfkd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect::<String>()
        .into()
}

/// The analyzer registered with the index for message text.
#[derive(Clone, Default)]
pub struct Tokenizer {
    stream: Vec<tantivy::tokenizer::Token>,
}

/// The tokens of one text, as tantivy reads them.
pub struct TokenStream<'a> {
    tokens: &'a mut [tantivy::tokenizer::Token],
    at: Option<usize>,
}

impl tantivy::tokenizer::Tokenizer for Tokenizer {
    type TokenStream<'a> = TokenStream<'a>;

    /// Reuses the previous text's tokens and their buffers: indexing allocates no string a word.
    fn token_stream<'a>(&'a mut self, text: &'a str) -> TokenStream<'a> {
        let mut n = 0;
        for (position, w) in words(text).enumerate() {
            if n == self.stream.len() {
                self.stream.push(tantivy::tokenizer::Token::default());
            }
            let token = &mut self.stream[n];
            token.offset_from = w.start;
            token.offset_to = w.end;
            token.position = position;
            token.position_length = 1;
            token.text.clear();
            token.text.push_str(&w.folded);
            n += 1;
        }
        TokenStream {
            tokens: &mut self.stream[..n],
            at: None,
        }
    }
}

impl tantivy::tokenizer::TokenStream for TokenStream<'_> {
    fn advance(&mut self) -> bool {
        let next = self.at.map_or(0, |i| i + 1);
        self.at = Some(next);
        next < self.tokens.len()
    }

    fn token(&self) -> &tantivy::tokenizer::Token {
        &self.tokens[self.at.unwrap_or(0)]
    }

    fn token_mut(&mut self) -> &mut tantivy::tokenizer::Token {
        &mut self.tokens[self.at.unwrap_or(0)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folded(text: &str) -> Vec<String> {
        words(text).map(|w| w.folded.into_owned()).collect()
    }

    #[test]
    fn case_and_accents_are_folded_in_every_script() {
        assert_eq!(folded("Café NAÏVE Ångström"), ["cafe", "naive", "angstrom"]);
        assert_eq!(folded("Ελληνικά"), ["ελληνικα"]);
        assert_eq!(folded("Привет, мир!"), ["привет", "мир"]);
        assert_eq!(folded("ﬁne"), ["fine"]);
    }

    #[test]
    fn words_are_unicode_segments_with_their_byte_ranges() {
        let text = "late check-out? 東京 2pm";
        let words: Vec<_> = words(text)
            .map(|w| (w.start, w.end, w.folded.into_owned()))
            .collect();
        assert_eq!(
            words,
            [
                (0, 4, "late".to_string()),
                (5, 10, "check".to_string()),
                (11, 14, "out".to_string()),
                (16, 19, "東".to_string()),
                (19, 22, "京".to_string()),
                (23, 26, "2pm".to_string()),
            ]
        );
    }

    #[test]
    fn overlong_runs_are_not_words() {
        let long = "a".repeat(LONGEST_WORD + 1);
        assert_eq!(folded(&format!("x {long} y")), ["x", "y"]);
    }
}
