//! Who a request acts for. Plain data: the auth crate fills it from a
//! verified token, the permission rules read it.

/// Who is making a request: what a verified token says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Principal {
    /// The user's id (`sub`).
    pub user_id: String,
    pub perms: Vec<String>,
    pub staff: bool,
    pub superuser: bool,
    /// The session (login) the token belongs to, when it says (`sid`).
    pub session: Option<String>,
}

impl Principal {
    /// Whether the user holds `perm` (`app.codename`); superusers hold all.
    pub fn has_perm(&self, perm: &str) -> bool {
        self.superuser || self.perms.iter().any(|p| p == perm)
    }
}
