//! A route table: each plane lists its routes once, as `(method, path, handler)`, and
//! both its router and its OpenAPI document are built from that list. The test that
//! every route is documented compares [`RouteTable::endpoints`] with the document, so a
//! route cannot be served without being described.

use std::collections::BTreeSet;

use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{self, MethodRouter};
use axum::Router;

/// One method on one path.
pub struct Route<S> {
    pub method: Method,
    pub path: &'static str,
    /// Served by the same handler as this canonical path, and documented as an alias
    /// of it (e.g. `/query` of `/read`).
    pub alias_of: Option<&'static str>,
    handler: MethodRouter<S>,
}

impl<S: Clone + Send + Sync + 'static> Route<S> {
    fn new(method: Method, path: &'static str, handler: MethodRouter<S>) -> Self {
        Route {
            method,
            path,
            alias_of: None,
            handler,
        }
    }

    pub fn get<H: Handler<T, S>, T: 'static>(path: &'static str, handler: H) -> Self {
        Self::new(Method::GET, path, routing::get(handler))
    }

    pub fn post<H: Handler<T, S>, T: 'static>(path: &'static str, handler: H) -> Self {
        Self::new(Method::POST, path, routing::post(handler))
    }

    pub fn patch<H: Handler<T, S>, T: 'static>(path: &'static str, handler: H) -> Self {
        Self::new(Method::PATCH, path, routing::patch(handler))
    }

    pub fn delete<H: Handler<T, S>, T: 'static>(path: &'static str, handler: H) -> Self {
        Self::new(Method::DELETE, path, routing::delete(handler))
    }

    /// The same handler under a second path, documented as an alias of this one.
    pub fn alias(&self, path: &'static str) -> Self {
        Route {
            method: self.method.clone(),
            path,
            alias_of: Some(self.path),
            handler: self.handler.clone(),
        }
    }

    /// No body limit: the handler streams the body and bounds it itself.
    pub fn body_limit_disabled(mut self) -> Self {
        self.handler = self.handler.layer(DefaultBodyLimit::disable());
        self
    }

    /// A body limit other than the router-wide one (e.g. 32 MiB for loads).
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.handler = self.handler.layer(DefaultBodyLimit::max(bytes));
        self
    }
}

/// The routes of one router, in the order they are listed.
pub struct RouteTable<S> {
    routes: Vec<Route<S>>,
}

impl<S: Clone + Send + Sync + 'static> RouteTable<S> {
    pub fn new(routes: Vec<Route<S>>) -> Self {
        RouteTable { routes }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Route<S>> {
        self.routes.iter()
    }

    /// `(METHOD, path)` of every route, with `prefix` in front of each path.
    pub fn endpoints(&self, prefix: &str) -> BTreeSet<(String, String)> {
        self.routes
            .iter()
            .map(|r| (r.method.to_string(), format!("{prefix}{}", r.path)))
            .collect()
    }

    /// A router serving every route; two methods on one path share it.
    pub fn into_router(self) -> Router<S> {
        self.routes
            .into_iter()
            .fold(Router::new(), |router, r| router.route(r.path, r.handler))
    }
}
