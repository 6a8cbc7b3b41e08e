//! In-process tests of the operator console (`/ui`): sessions, CSRF and same-origin checks,
//! security headers, and what each page shows (and never shows), through `app(state)`.

#[cfg(test)]
#[allow(dead_code)]
#[path = "api/support.rs"]
mod support;

#[cfg(test)]
#[allow(dead_code)]
#[path = "api/audit_support.rs"]
mod audit_support;

#[cfg(test)]
#[path = "ui/browser.rs"]
mod browser;

#[cfg(test)]
#[path = "ui/access.rs"]
mod access;

#[cfg(test)]
#[path = "ui/pages.rs"]
mod pages;
