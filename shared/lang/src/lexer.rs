//! Tokens shared by the schema and query languages.
//!
//! Keywords are not tokens of their own: parsers recognise them by identifier text, so a
//! property may be called `order` or `match`.

use crate::error::{LangError, LangResult};
use crate::span::Span;

#[derive(Debug, Clone, PartialEq)]
pub enum TokenKind {
    Ident(String),
    /// A word that starts with a digit and goes on with letters (`1on1`): only an enum
    /// value may be spelled this way (shared/lang/src/types.rs).
    DigitWord(String),
    /// `$name`, stored without the `$`; `$_` is stored as `_`.
    Var(String),
    Int(u64),
    Float(f64),
    Str(String),
    LBrace,
    RBrace,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Colon,
    Comma,
    Semicolon,
    Dot,
    DotDot,
    Question,
    At,
    Arrow,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Minus,
    Eof,
}

impl TokenKind {
    /// How the token is named in an error message.
    pub fn describe(&self) -> String {
        match self {
            TokenKind::Ident(name) | TokenKind::DigitWord(name) => format!("`{name}`"),
            TokenKind::Var(name) => format!("`${name}`"),
            TokenKind::Int(value) => format!("number `{value}`"),
            TokenKind::Float(value) => format!("number `{value}`"),
            TokenKind::Str(text) => format!("string {text:?}"),
            TokenKind::Eof => "end of input".to_string(),
            other => format!("`{}`", other.punct_text()),
        }
    }

    fn punct_text(&self) -> &'static str {
        match self {
            TokenKind::LBrace => "{",
            TokenKind::RBrace => "}",
            TokenKind::LParen => "(",
            TokenKind::RParen => ")",
            TokenKind::LBracket => "[",
            TokenKind::RBracket => "]",
            TokenKind::Colon => ":",
            TokenKind::Comma => ",",
            TokenKind::Semicolon => ";",
            TokenKind::Dot => ".",
            TokenKind::DotDot => "..",
            TokenKind::Question => "?",
            TokenKind::At => "@",
            TokenKind::Arrow => "->",
            TokenKind::Eq => "=",
            TokenKind::Ne => "!=",
            TokenKind::Lt => "<",
            TokenKind::Le => "<=",
            TokenKind::Gt => ">",
            TokenKind::Ge => ">=",
            TokenKind::Minus => "-",
            _ => "?",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub kind: TokenKind,
    pub span: Span,
}

/// Splits `source` into tokens; the last token is always `Eof`.
pub fn tokenize(source: &str) -> LangResult<Vec<Token>> {
    let mut lexer = Lexer {
        chars: source.chars().collect(),
        pos: 0,
        line: 1,
        column: 1,
    };
    let mut tokens = Vec::new();
    loop {
        lexer.skip_trivia()?;
        let span = lexer.span();
        let Some(c) = lexer.peek(0) else {
            tokens.push(Token {
                kind: TokenKind::Eof,
                span,
            });
            return Ok(tokens);
        };
        let kind = lexer.token(c, span)?;
        tokens.push(Token { kind, span });
    }
}

struct Lexer {
    chars: Vec<char>,
    pos: usize,
    line: u32,
    column: u32,
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

impl Lexer {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    fn span(&self) -> Span {
        Span::new(self.line, self.column)
    }

    fn advance(&mut self) -> Option<char> {
        let c = self.peek(0)?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn skip_trivia(&mut self) -> LangResult<()> {
        loop {
            match (self.peek(0), self.peek(1)) {
                (Some(c), _) if c.is_whitespace() => {
                    self.advance();
                }
                (Some('/'), Some('/')) => {
                    while self.peek(0).is_some_and(|c| c != '\n') {
                        self.advance();
                    }
                }
                (Some('/'), Some('*')) => self.skip_block_comment()?,
                _ => return Ok(()),
            }
        }
    }

    fn skip_block_comment(&mut self) -> LangResult<()> {
        let start = self.span();
        self.advance();
        self.advance();
        loop {
            match (self.peek(0), self.peek(1)) {
                (Some('*'), Some('/')) => {
                    self.advance();
                    self.advance();
                    return Ok(());
                }
                (Some(_), _) => {
                    self.advance();
                }
                (None, _) => {
                    return Err(LangError::syntax("unterminated block comment", start)
                        .expected("`*/`")
                        .found("end of input"))
                }
            }
        }
    }

    fn token(&mut self, c: char, span: Span) -> LangResult<TokenKind> {
        if is_ident_start(c) {
            return Ok(TokenKind::Ident(self.ident()));
        }
        if c.is_ascii_digit() {
            return self.number(span);
        }
        match c {
            '"' => self.string(span),
            '$' => self.variable(span),
            _ => self.punct(c, span),
        }
    }

    fn ident(&mut self) -> String {
        let mut text = String::new();
        while let Some(c) = self.peek(0).filter(|c| is_ident_char(*c)) {
            text.push(c);
            self.advance();
        }
        text
    }

    fn variable(&mut self, span: Span) -> LangResult<TokenKind> {
        self.advance();
        match self.peek(0) {
            Some(c) if is_ident_start(c) => Ok(TokenKind::Var(self.ident())),
            other => Err(LangError::syntax("`$` must be followed by a name", span)
                .expected("a variable or parameter name")
                .found(describe_char(other))),
        }
    }

    fn digits(&mut self, text: &mut String) {
        while let Some(c) = self.peek(0).filter(char::is_ascii_digit) {
            text.push(c);
            self.advance();
        }
    }

    fn number(&mut self, span: Span) -> LangResult<TokenKind> {
        let mut text = String::new();
        self.digits(&mut text);
        let mut is_float = false;
        if self.peek(0) == Some('.') && self.peek(1).is_some_and(|c| c.is_ascii_digit()) {
            is_float = true;
            text.push('.');
            self.advance();
            self.digits(&mut text);
        }
        if self.at_exponent() {
            is_float = true;
            text.push('e');
            self.advance();
            if let Some(sign) = self.peek(0).filter(|c| *c == '+' || *c == '-') {
                text.push(sign);
                self.advance();
            }
            self.digits(&mut text);
        }
        if !is_float && self.peek(0).is_some_and(is_ident_char) {
            while let Some(c) = self.peek(0).filter(|c| is_ident_char(*c)) {
                text.push(c);
                self.advance();
            }
            return Ok(TokenKind::DigitWord(text));
        }
        if let Some(c) = self.peek(0).filter(|c| is_ident_char(*c)) {
            return Err(LangError::syntax("invalid number", span)
                .expected("a digit or the end of the number")
                .found(format!("`{c}`")));
        }
        if is_float {
            let value = text
                .parse::<f64>()
                .map_err(|_| LangError::syntax("invalid number", span).found(text.clone()))?;
            return Ok(TokenKind::Float(value));
        }
        text.parse::<u64>()
            .map(TokenKind::Int)
            .map_err(|_| LangError::syntax("integer literal is too large", span).found(text))
    }

    fn at_exponent(&self) -> bool {
        let is_e = matches!(self.peek(0), Some('e') | Some('E'));
        let next_digit = self.peek(1).is_some_and(|c| c.is_ascii_digit());
        let signed_digit = matches!(self.peek(1), Some('+') | Some('-'))
            && self.peek(2).is_some_and(|c| c.is_ascii_digit());
        is_e && (next_digit || signed_digit)
    }

    fn string(&mut self, span: Span) -> LangResult<TokenKind> {
        self.advance();
        let mut text = String::new();
        loop {
            match self.advance() {
                Some('"') => return Ok(TokenKind::Str(text)),
                Some('\\') => self.escape(&mut text)?,
                Some('\n') | None => {
                    return Err(LangError::syntax("unterminated string", span)
                        .expected("a closing `\"`")
                        .found("end of line"))
                }
                Some(c) => text.push(c),
            }
        }
    }

    /// Known escapes are decoded; any other backslash is kept, so regex patterns like
    /// `"\d+"` can be written without doubling.
    fn escape(&mut self, text: &mut String) -> LangResult<()> {
        let span = self.span();
        match self.peek(0) {
            Some('"') => text.push('"'),
            Some('\\') => text.push('\\'),
            Some('n') => text.push('\n'),
            Some('t') => text.push('\t'),
            Some('r') => text.push('\r'),
            Some('0') => text.push('\0'),
            Some('u') if self.peek(1) == Some('{') => return self.unicode_escape(text, span),
            _ => {
                text.push('\\');
                return Ok(());
            }
        }
        self.advance();
        Ok(())
    }

    fn unicode_escape(&mut self, text: &mut String, span: Span) -> LangResult<()> {
        self.advance();
        self.advance();
        let mut hex = String::new();
        while let Some(c) = self.peek(0).filter(char::is_ascii_hexdigit) {
            hex.push(c);
            self.advance();
        }
        let decoded = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32);
        match (decoded, self.peek(0)) {
            (Some(c), Some('}')) => {
                self.advance();
                text.push(c);
                Ok(())
            }
            _ => Err(LangError::syntax("invalid unicode escape", span)
                .expected("`\\u{` hex digits `}`")
                .found(format!("`\\u{{{hex}`"))),
        }
    }

    fn punct(&mut self, c: char, span: Span) -> LangResult<TokenKind> {
        let two = |second: char| self.peek(1) == Some(second);
        let (kind, len) = match c {
            '-' if two('>') => (TokenKind::Arrow, 2),
            '.' if two('.') => (TokenKind::DotDot, 2),
            '!' if two('=') => (TokenKind::Ne, 2),
            '<' if two('=') => (TokenKind::Le, 2),
            '>' if two('=') => (TokenKind::Ge, 2),
            '{' => (TokenKind::LBrace, 1),
            '}' => (TokenKind::RBrace, 1),
            '(' => (TokenKind::LParen, 1),
            ')' => (TokenKind::RParen, 1),
            '[' => (TokenKind::LBracket, 1),
            ']' => (TokenKind::RBracket, 1),
            ':' => (TokenKind::Colon, 1),
            ',' => (TokenKind::Comma, 1),
            ';' => (TokenKind::Semicolon, 1),
            '.' => (TokenKind::Dot, 1),
            '?' => (TokenKind::Question, 1),
            '@' => (TokenKind::At, 1),
            '=' => (TokenKind::Eq, 1),
            '<' => (TokenKind::Lt, 1),
            '>' => (TokenKind::Gt, 1),
            '-' => (TokenKind::Minus, 1),
            other => {
                return Err(LangError::syntax("unexpected character", span)
                    .found(describe_char(Some(other))))
            }
        };
        for _ in 0..len {
            self.advance();
        }
        Ok(kind)
    }
}

fn describe_char(c: Option<char>) -> String {
    match c {
        Some(c) if c.is_whitespace() => "whitespace".to_string(),
        Some(c) => format!("`{c}`"),
        None => "end of input".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(source: &str) -> Vec<TokenKind> {
        tokenize(source)
            .expect("lexes")
            .into_iter()
            .map(|t| t.kind)
            .collect()
    }

    #[test]
    fn range_is_two_ints_around_dotdot() {
        assert_eq!(
            kinds("0..200"),
            vec![
                TokenKind::Int(0),
                TokenKind::DotDot,
                TokenKind::Int(200),
                TokenKind::Eof
            ]
        );
        assert_eq!(
            kinds("0.5..1e2"),
            vec![
                TokenKind::Float(0.5),
                TokenKind::DotDot,
                TokenKind::Float(100.0),
                TokenKind::Eof
            ]
        );
    }

    #[test]
    fn comments_are_skipped_and_positions_are_one_based() {
        let tokens = tokenize("// c\n  /* a\n b */ $p.name >= -3").expect("lexes");
        assert_eq!(tokens[0].kind, TokenKind::Var("p".into()));
        assert_eq!(tokens[0].span, Span::new(3, 7));
        assert_eq!(tokens[3].kind, TokenKind::Ge);
        assert_eq!(tokens[4].kind, TokenKind::Minus);
        assert_eq!(tokens[5].span, Span::new(3, 19));
    }

    #[test]
    fn string_escapes_decode_and_unknown_escapes_stay() {
        assert_eq!(
            kinds(r#""a\"b\n\d\u{e9}""#)[0],
            TokenKind::Str("a\"b\n\\d\u{e9}".into())
        );
    }

    #[test]
    fn errors_are_positioned() {
        let err = tokenize("a\n  /* open").unwrap_err();
        assert_eq!((err.line, err.column), (2, 3));
        let err = tokenize("x \"abc").unwrap_err();
        assert_eq!((err.line, err.column), (1, 3));
        let err = tokenize("  #").unwrap_err();
        assert_eq!((err.line, err.column), (1, 3));
        let err = tokenize("1.5ab").unwrap_err();
        assert_eq!((err.line, err.column), (1, 1));
        // A digit-led word is a token of its own (an enum value such as `1on1`).
        assert_eq!(kinds("12ab")[0], TokenKind::DigitWord("12ab".into()));
        let err = tokenize("$ x").unwrap_err();
        assert_eq!((err.line, err.column), (1, 1));
        let err = tokenize("99999999999999999999").unwrap_err();
        assert!(err.message.contains("too large"));
    }
}
