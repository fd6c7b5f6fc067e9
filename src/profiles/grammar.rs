//! The line pass ([file format](https://docs.aws.amazon.com/sdkref/latest/guide/file-format.html)): turns the text of one shared file into its sections and
//! properties, in file order, implementing the AWS grammar that `rust-ini` does not (comment
//! rules, continuations, `s3 =` sub-property blocks, `=` as the only delimiter) and reporting
//! hard errors with their 1-based line. Section headers are kept verbatim (after comment
//! removal and trimming); deciding what a header *means* is [`super::parser`]'s job.

/// Space and tab: the only characters the grammar calls whitespace.
pub(crate) const WHITESPACE: &[char] = &[' ', '\t'];
const COMMENT: &[char] = &['#', ';'];

/// One `[header]` as written and the properties under it, in order (duplicates kept; the last
/// one wins when they are merged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawSection {
    /// The text between the brackets, trimmed of space and tab.
    pub header: String,
    /// `(lower-cased name, value)`; continuation lines are joined with `\n`.
    pub properties: Vec<(String, String)>,
}

/// A hard error: the 1-based line and a message (the wording follows smithy-rs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LineError {
    pub line: usize,
    pub message: String,
}

enum PropertyError {
    NoEquals,
    NoName,
}

impl PropertyError {
    fn message(&self, what: &str) -> String {
        match self {
            PropertyError::NoEquals => format!("Expected an '=' sign defining a {what}"),
            PropertyError::NoName => {
                let mut what = what.to_owned();
                if let Some(first) = what.get_mut(0..1) {
                    first.make_ascii_uppercase();
                }
                format!("{what} did not have a name")
            }
        }
    }
}

/// Trims the line and cuts it at the first comment character. On property lines the comment
/// character must follow whitespace (`v # c`); on header lines it need not (`[p]# c`).
fn strip_comment(line: &str, needs_whitespace: bool) -> &str {
    let line = line.trim_matches(WHITESPACE);
    let mut prev_whitespace = false;
    for (idx, ch) in line.char_indices() {
        if COMMENT.contains(&ch) && (prev_whitespace || !needs_whitespace) {
            return line[..idx].trim_matches(WHITESPACE);
        }
        prev_whitespace = WHITESPACE.contains(&ch);
    }
    line
}

/// `name = value` with the inline comment removed; the name is lower-cased (ASCII).
fn property(line: &str) -> Result<(String, &str), PropertyError> {
    let line = strip_comment(line, true);
    let (name, value) = line.split_once('=').ok_or(PropertyError::NoEquals)?;
    let name = name.trim_matches(WHITESPACE);
    if name.is_empty() {
        return Err(PropertyError::NoName);
    }
    Ok((name.to_ascii_lowercase(), value.trim_matches(WHITESPACE)))
}

/// Where the parser is: before any header, or inside a section with maybe an open property.
enum State {
    Start,
    InSection {
        /// Whether a property is open (so a continuation line may follow).
        open_property: bool,
        /// Whether the open property began with an empty value (a sub-property block).
        sub_properties: bool,
    },
}

/// Runs the line pass over a whole file.
pub(crate) fn scan(text: &str) -> Result<Vec<RawSection>, LineError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut sections: Vec<RawSection> = Vec::new();
    let mut state = State::Start;
    // `str::lines` ends lines at `\n` and drops one `\r` before it, so `\r\n` works too.
    for (idx, line) in text.lines().enumerate() {
        let line_no = idx + 1;
        let err = |message: String| LineError {
            line: line_no,
            message,
        };
        if line.trim_matches(WHITESPACE).is_empty() || line.starts_with(COMMENT) {
            continue;
        }
        if line.starts_with('[') {
            let header = strip_comment(line, false);
            let Some(name) = header.strip_prefix('[').and_then(|h| h.strip_suffix(']')) else {
                return Err(err("Profile definition must end with ']'".into()));
            };
            sections.push(RawSection {
                header: name.trim_matches(WHITESPACE).to_owned(),
                properties: Vec::new(),
            });
            state = State::InSection {
                open_property: false,
                sub_properties: false,
            };
        } else if line.starts_with(WHITESPACE) {
            match state {
                State::Start => return Err(err("Expected a profile definition".into())),
                State::InSection {
                    open_property: false,
                    ..
                } => {
                    return Err(err(
                        "Expected a property definition, found continuation".into()
                    ));
                }
                State::InSection {
                    open_property: true,
                    sub_properties,
                } => {
                    if sub_properties {
                        property(line).map_err(|e| err(e.message("sub-property")))?;
                    }
                    let (_, value) = sections
                        .last_mut()
                        .and_then(|s| s.properties.last_mut())
                        .expect("an open property exists");
                    value.push('\n');
                    value.push_str(line.trim_matches(WHITESPACE));
                }
            }
        } else {
            let State::InSection { .. } = state else {
                return Err(err("Expected a profile definition".into()));
            };
            let (name, value) = property(line).map_err(|e| err(e.message("property")))?;
            state = State::InSection {
                open_property: true,
                sub_properties: value.is_empty(),
            };
            let section = sections.last_mut().expect("in a section");
            section.properties.push((name, value.to_owned()));
        }
    }
    Ok(sections)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(text: &str) -> Vec<(String, String)> {
        scan(text)
            .unwrap()
            .into_iter()
            .flat_map(|s| s.properties)
            .collect()
    }

    #[test]
    fn inline_comments_need_whitespace_on_property_lines_only() {
        assert_eq!(
            props("[a]\nk = v;c\nj = v ;c\nl = v\t#c"),
            vec![
                ("k".into(), "v;c".into()),
                ("j".into(), "v".into()),
                ("l".into(), "v".into()),
            ]
        );
        assert_eq!(scan("[a]#x\n[b];y").unwrap()[1].header, "b");
    }

    #[test]
    fn colon_is_not_a_delimiter() {
        let e = scan("[a]\nkey : value").unwrap_err();
        assert_eq!(
            (e.line, e.message.as_str()),
            (2, "Expected an '=' sign defining a property")
        );
        assert_eq!(props("[a]\na:b = c"), vec![("a:b".into(), "c".into())]);
    }

    #[test]
    fn sub_property_block_is_validated_and_kept_raw() {
        assert_eq!(
            props("[a]\ns3 =\n  x = 1 # c\n\n  y=2"),
            vec![("s3".into(), "\nx = 1 # c\ny=2".into())]
        );
        let e = scan("[a]\ns3 =\n  x = 1\n  = 2").unwrap_err();
        assert_eq!(
            (e.line, e.message.as_str()),
            (4, "Sub-property did not have a name")
        );
    }

    #[test]
    fn crlf_and_indented_comment_lines() {
        assert_eq!(
            props("[a]\r\nk = v\r\n  # more\r\n"),
            vec![("k".into(), "v\n# more".into())]
        );
    }
}
