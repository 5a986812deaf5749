//! A result's snippet: the message's text, whole when short, else a window around its first match
//! cut at whitespace; its highlights as code point ranges of the snippet (never markup).

/// The longest snippet, in characters (code points), not counting the `…` at cut ends.
pub const SNIPPET_CHARS: usize = 160;
/// How much text is shown before the first match when the window does not start the text.
const LEAD_CHARS: usize = 40;
/// How far a cut end may move to land on whitespace rather than inside a word.
const SLACK_CHARS: usize = 20;

/// The snippet of `text` and its highlights, `[start, end)` in code points of the snippet, from the
/// matched byte ranges of `text` (ascending, not overlapping).
pub fn snippet(text: &str, matched: &[(usize, usize)]) -> (String, Vec<[usize; 2]>) {
    let chars: Vec<char> = text.chars().collect();
    let char_at = {
        let starts: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
        move |byte: usize| starts.partition_point(|&b| b < byte)
    };
    let ranges: Vec<(usize, usize)> = matched
        .iter()
        .map(|&(s, e)| (char_at(s), char_at(e)))
        .collect();
    let total = chars.len();
    let (mut start, mut end) = (0, total);
    if total > SNIPPET_CHARS {
        let first = ranges.first().map_or(0, |r| r.0);
        start = first.saturating_sub(LEAD_CHARS).min(total - SNIPPET_CHARS);
        end = start + SNIPPET_CHARS;
        if start > 0 {
            if let Some(space) =
                (start..(start + SLACK_CHARS).min(first)).find(|&i| chars[i - 1].is_whitespace())
            {
                start = space;
            }
        }
        if end < total {
            if let Some(space) = (end.saturating_sub(SLACK_CHARS)..=end)
                .rev()
                .find(|&i| i > start && chars[i].is_whitespace())
            {
                end = space;
            }
        }
    }
    let (cut_start, cut_end) = (start > 0, end < total);
    while start < end && chars[start].is_whitespace() && cut_start {
        start += 1;
    }
    while end > start && chars[end - 1].is_whitespace() && cut_end {
        end -= 1;
    }
    let lead = usize::from(cut_start);
    let mut out = String::with_capacity(text.len().min(4 * SNIPPET_CHARS) + 6);
    if cut_start {
        out.push('…');
    }
    out.extend(&chars[start..end]);
    if cut_end {
        out.push('…');
    }
    let highlights = ranges
        .iter()
        .filter_map(|&(s, e)| {
            let (s, e) = (s.max(start), e.min(end));
            (s < e).then(|| [s - start + lead, e - start + lead])
        })
        .collect();
    (out, highlights)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked(snippet: &str, highlights: &[[usize; 2]]) -> Vec<String> {
        let chars: Vec<char> = snippet.chars().collect();
        highlights
            .iter()
            .map(|[s, e]| chars[*s..*e].iter().collect())
            .collect()
    }

    #[test]
    fn a_short_text_is_whole_and_ranges_count_code_points() {
        let text = "🙂 Café à côté";
        let (s, h) = snippet(text, &[(5, 10), (14, 20)]);
        assert_eq!(s, text);
        assert_eq!(h, [[2, 6], [9, 13]]);
        assert_eq!(marked(&s, &h), ["Café", "côté"]);
    }

    #[test]
    fn a_long_text_is_cut_at_whitespace_around_its_first_match() {
        let before = "word ".repeat(60);
        let after = " tail".repeat(60);
        let text = format!("{before}late check-out{after}");
        let at = before.len();
        let (s, h) = snippet(&text, &[(at, at + 4)]);
        assert!(s.starts_with("…word "), "{s}");
        assert!(s.ends_with("tail…"), "{s}");
        assert!(s.chars().count() <= SNIPPET_CHARS + 2);
        assert_eq!(marked(&s, &h), ["late"]);
        assert_eq!(h[0][0], 1 + 40, "{s}");
    }

    #[test]
    fn a_match_at_the_end_of_a_long_text_is_shown() {
        let text = format!("{}needle", "x ".repeat(200));
        let at = text.len() - 6;
        let (s, h) = snippet(&text, &[(at, text.len())]);
        assert!(s.starts_with('…') && !s.ends_with('…'), "{s}");
        assert_eq!(marked(&s, &h), ["needle"]);
    }
}
