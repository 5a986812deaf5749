//! The query language (docs/search.md): words that must all match, `"exact phrases"`, and
//! `prefix*` for type-ahead, each folded like the indexed text; and where a query matched a text,
//! for highlights.

use super::text::{segments, words, Word};

/// One thing a query asks for: words in a row, the last one a prefix when `prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub words: Vec<String>,
    pub prefix: bool,
}

/// A query of at least one term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub terms: Vec<Term>,
}

/// The longest query taken, in characters.
pub const LONGEST_QUERY: usize = 200;

/// Why a query cannot be run (400).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QueryError {
    #[error("q is required")]
    Missing,
    #[error("q must be at most {LONGEST_QUERY} characters")]
    TooLong,
    #[error("q has no word to search for")]
    NoWords,
}

impl Query {
    /// Reads `q`: quoted runs are phrases (an unclosed quote runs to the end), anything else is
    /// split at whitespace; a trailing `*` makes the last word a prefix. A word the analyzer splits
    /// (`check-out`, `東京`) is a phrase of its parts.
    ///
    /// # Errors
    /// [`QueryError`] for an empty or overlong `q`, or one without a word.
    pub fn parse(q: &str) -> Result<Query, QueryError> {
        if q.trim().is_empty() {
            return Err(QueryError::Missing);
        }
        if q.chars().count() > LONGEST_QUERY {
            return Err(QueryError::TooLong);
        }
        let mut terms = Vec::new();
        let mut rest = q;
        while let Some(start) = rest.find(|c: char| !c.is_whitespace()) {
            rest = &rest[start..];
            let (chunk, after) = match rest.strip_prefix('"') {
                Some(quoted) => match quoted.find('"') {
                    Some(end) => (&quoted[..end], &quoted[end + 1..]),
                    None => (quoted, ""),
                },
                None => {
                    let end = rest
                        .find(|c: char| c.is_whitespace() || c == '"')
                        .unwrap_or(rest.len());
                    (&rest[..end], &rest[end..])
                }
            };
            rest = after;
            let trimmed = chunk.trim_end();
            let prefix = trimmed.ends_with('*');
            let words: Vec<String> = segments(trimmed).map(|w| w.folded.into_owned()).collect();
            if !words.is_empty() {
                terms.push(Term { words, prefix });
            }
        }
        if terms.is_empty() {
            return Err(QueryError::NoWords);
        }
        Ok(Query { terms })
    }

    /// The byte ranges of `text` the query matched, ascending and merged: each occurrence of a
    /// term's words in a row (the last by prefix for a prefix term).
    pub fn matches(&self, text: &str) -> Vec<(usize, usize)> {
        let found: Vec<Word> = words(text).collect();
        let mut ranges = Vec::new();
        for term in &self.terms {
            let n = term.words.len();
            for at in 0..found.len().saturating_sub(n - 1) {
                let run = &found[at..at + n];
                let hit = run.iter().zip(&term.words).enumerate().all(|(i, (w, q))| {
                    if term.prefix && i == n - 1 {
                        w.folded.starts_with(q.as_str())
                    } else {
                        w.folded == *q
                    }
                });
                if hit {
                    ranges.push((run[0].start, run[n - 1].end));
                }
            }
        }
        ranges.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
        for (start, end) in ranges {
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        merged
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn term(words: &[&str], prefix: bool) -> Term {
        Term {
            words: words.iter().map(|w| w.to_string()).collect(),
            prefix,
        }
    }

    #[test]
    fn words_phrases_and_prefixes() {
        let q = Query::parse(r#"Late "check out"  CAFÉ chec* "front desk"#).unwrap();
        assert_eq!(
            q.terms,
            [
                term(&["late"], false),
                term(&["check", "out"], false),
                term(&["cafe"], false),
                term(&["chec"], true),
                term(&["front", "desk"], false),
            ]
        );
    }

    #[test]
    fn split_words_become_phrases_and_punctuation_is_no_word() {
        let q = Query::parse("check-out 東京* !!").unwrap();
        assert_eq!(
            q.terms,
            [term(&["check", "out"], false), term(&["東", "京"], true)]
        );
    }

    #[test]
    fn refusals_name_the_problem() {
        assert_eq!(Query::parse("  "), Err(QueryError::Missing));
        assert_eq!(Query::parse("?! … *"), Err(QueryError::NoWords));
        assert_eq!(
            Query::parse(&"é".repeat(LONGEST_QUERY + 1)),
            Err(QueryError::TooLong)
        );
        assert!(Query::parse(&"é ".repeat(LONGEST_QUERY / 2)).is_ok());
        // A word too long to be indexed is still a word: it finds nothing rather than being
        // dropped from the query (or refusing it).
        let long = "é".repeat(LONGEST_QUERY);
        assert_eq!(
            Query::parse(&long).unwrap().terms[0].words,
            ["e".repeat(LONGEST_QUERY)]
        );
    }

    #[test]
    fn matches_are_folded_merged_byte_ranges() {
        let q = Query::parse(r#"cafe "late check" chec*"#).unwrap();
        let text = "Café? The late check-out at the café, checked.";
        let got: Vec<&str> = q.matches(text).iter().map(|&(s, e)| &text[s..e]).collect();
        assert_eq!(got, ["Café", "late check", "café", "checked"]);
    }
}
