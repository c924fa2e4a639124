//! A cursor over tokens with the small vocabulary both parsers share.

use crate::error::{LangError, LangResult};
use crate::lexer::{tokenize, Token, TokenKind};
use crate::span::{Ident, Span};

pub(crate) struct TokenCursor {
    tokens: Vec<Token>,
    pos: usize,
}

impl TokenCursor {
    pub fn new(source: &str) -> LangResult<Self> {
        Ok(TokenCursor {
            tokens: tokenize(source)?,
            pos: 0,
        })
    }

    pub fn peek(&self) -> &Token {
        self.peek_at(0)
    }

    /// The token `ahead` positions on; `Eof` past the end.
    pub fn peek_at(&self, ahead: usize) -> &Token {
        let last = self.tokens.len() - 1;
        &self.tokens[(self.pos + ahead).min(last)]
    }

    pub fn kind(&self) -> &TokenKind {
        &self.peek().kind
    }

    pub fn span(&self) -> Span {
        self.peek().span
    }

    pub fn at_eof(&self) -> bool {
        self.at(&TokenKind::Eof)
    }

    pub fn bump(&mut self) -> Token {
        let token = self.peek().clone();
        if token.kind != TokenKind::Eof {
            self.pos += 1;
        }
        token
    }

    pub fn at(&self, kind: &TokenKind) -> bool {
        self.kind() == kind
    }

    pub fn eat(&mut self, kind: &TokenKind) -> bool {
        let hit = self.at(kind);
        if hit {
            self.bump();
        }
        hit
    }

    /// Consumes an optional `,` or `;` between list items.
    pub fn eat_separator(&mut self) {
        if !self.eat(&TokenKind::Comma) {
            self.eat(&TokenKind::Semicolon);
        }
    }

    pub fn expect(&mut self, kind: &TokenKind) -> LangResult<Span> {
        if self.at(kind) {
            Ok(self.bump().span)
        } else {
            Err(self.unexpected(&kind.describe()))
        }
    }

    pub fn at_keyword(&self, keyword: &str) -> bool {
        matches!(self.kind(), TokenKind::Ident(name) if name == keyword)
    }

    pub fn eat_keyword(&mut self, keyword: &str) -> bool {
        let hit = self.at_keyword(keyword);
        if hit {
            self.bump();
        }
        hit
    }

    pub fn expect_keyword(&mut self, keyword: &str) -> LangResult<Span> {
        if self.at_keyword(keyword) {
            Ok(self.bump().span)
        } else {
            Err(self.unexpected(&format!("`{keyword}`")))
        }
    }

    pub fn expect_ident(&mut self, expected: &str) -> LangResult<Ident> {
        match self.kind().clone() {
            TokenKind::Ident(name) => Ok(Ident::new(name, self.bump().span)),
            _ => Err(self.unexpected(expected)),
        }
    }

    /// A `$name` token; the returned name has no `$`.
    pub fn expect_var(&mut self, expected: &str) -> LangResult<Ident> {
        match self.kind().clone() {
            TokenKind::Var(name) => Ok(Ident::new(name, self.bump().span)),
            _ => Err(self.unexpected(expected)),
        }
    }

    pub fn expect_u64(&mut self, expected: &str) -> LangResult<(u64, Span)> {
        match self.kind().clone() {
            TokenKind::Int(value) => Ok((value, self.bump().span)),
            _ => Err(self.unexpected(expected)),
        }
    }

    /// A syntax error at the current token.
    pub fn unexpected(&self, expected: &str) -> LangError {
        let token = self.peek();
        LangError::syntax(format!("unexpected {}", token.kind.describe()), token.span)
            .expected(expected)
            .found(token.kind.describe())
    }
}
