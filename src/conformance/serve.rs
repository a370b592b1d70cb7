//! Serving an implementation over the protocol (what `cross-entropy-spec eval` does with the
//! reference): one reply line per request line, in order. A line that is not a request — not
//! JSON, not UTF-8, longer than [`MAX_REQUEST_LINE`] — gets an error reply naming the problem,
//! and the next line is read.

use std::io::{self, BufRead, Write};

use super::Implementation;
use super::lines::{Line, read_line, skip_line};
use super::protocol::{BadRequest, Reply, Request};
use crate::vocab::{ErrorKind, Role};

/// The longest request line read: a tensor of the suite's largest size, 2^24 float64 values,
/// is about 420 MB of JSON.
pub const MAX_REQUEST_LINE: usize = 1 << 30;

/// Answers every line of `input` on `output` until the end of the input.
///
/// The reference answering one request line, as `cross-entropy-spec eval` does on stdin: the
/// softmax of `[1, 1, 2, 2]` (`004_8a619d584319f9a0.txt`, printed there as
/// `[0.134, 0.134, 0.365, 0.365]`), and a line that is not a request:
///
/// ```
/// use cross_entropy_spec::conformance::serve::{MAX_REQUEST_LINE, serve};
/// use cross_entropy_spec::eval::Reference;
///
/// let input = concat!(
///     r#"{"protocol":1,"id":"a","op":"softmax","#,
///     r#""inputs":{"input":{"dtype":"float64","shape":[4],"data":[1,1,2,2]}},"#,
///     r#""attrs":{"dim":0},"grad":false}"#,
///     "\n",
///     "not json\n",
/// );
/// let mut output = Vec::new();
/// serve(&mut input.as_bytes(), &mut output, &mut Reference, MAX_REQUEST_LINE).unwrap();
///
/// let replies = String::from_utf8(output).unwrap();
/// let mut lines = replies.lines();
/// assert_eq!(
///     lines.next().unwrap(),
///     r#"{"id":"a","output":{"dtype":"float64","shape":[4],"data":[0.13447071068499755,0.13447071068499755,0.36552928931500245,0.36552928931500245]}}"#
/// );
/// assert!(lines.next().unwrap().contains(r#""kind":"malformed_request""#));
/// ```
pub fn serve(
    input: &mut impl BufRead,
    output: &mut impl Write,
    implementation: &mut dyn Implementation,
    max_line: usize,
) -> io::Result<()> {
    while let Some(line) = read_line(input, max_line)? {
        let (id, wrt, reply) = match line {
            // A blank line (JSON's whitespace only) is no request; any other line is answered.
            Line::Text(text) if text.trim_matches([' ', '\t', '\r']).is_empty() => continue,
            Line::Text(text) => match Request::from_json(&text) {
                Ok(request) => (
                    request.id.clone(),
                    request.vjp.wrt,
                    implementation.evaluate(&request),
                ),
                Err(bad) => (
                    bad.id.clone().unwrap_or_default(),
                    Role::Input,
                    Reply::from(bad),
                ),
            },
            Line::TooLong(_) => {
                skip_line(input)?;
                let m = format!("a request line longer than the {max_line} bytes read");
                (String::new(), Role::Input, malformed(m))
            }
            Line::NotUtf8 => (
                String::new(),
                Role::Input,
                malformed("the request line is not UTF-8".into()),
            ),
        };
        // An implementation that breaks in process has no wire answer but an error.
        let text = reply.to_json_wrt(&id, wrt).unwrap_or_else(|| {
            let why = match &reply {
                Reply::Broken(why) => why.clone(),
                _ => String::new(),
            };
            malformed(why).to_json(&id).unwrap_or_default()
        });
        writeln!(output, "{text}")?;
        output.flush()?;
    }
    Ok(())
}

fn malformed(message: String) -> Reply {
    Reply::from(BadRequest {
        id: None,
        kind: ErrorKind::MalformedRequest,
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::Reference;

    fn answers(input: &[u8], max: usize) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        serve(&mut io::Cursor::new(input), &mut out, &mut Reference, max).unwrap();
        let text = String::from_utf8(out).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn bad_bytes_and_long_lines_are_answered_and_the_next_line_is_read() {
        let good = br#"{"id":"a","op":"sigmoid","inputs":{"input":{"dtype":"float64","shape":[],"data":[0]}}}"#;
        let mut input = b"\xff\xfe not utf-8\n".to_vec();
        input.extend_from_slice(&[b'x'; 200]);
        input.push(b'\n');
        input.extend_from_slice(good);
        let replies = answers(&input, 150);
        assert_eq!(replies.len(), 3);
        assert_eq!(replies[0]["error"]["kind"], "malformed_request");
        assert!(
            replies[0]["error"]["message"]
                .as_str()
                .unwrap()
                .contains("UTF-8")
        );
        assert!(
            replies[1]["error"]["message"]
                .as_str()
                .unwrap()
                .contains("longer than the 150 bytes")
        );
        assert_eq!(replies[2]["output"]["data"][0], 0.5);
    }
}
