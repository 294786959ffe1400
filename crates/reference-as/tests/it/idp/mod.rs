//! Enterprise-Managed Authorization over real HTTP: the IdP role's OpenID
//! Connect code flow, its token exchange (ID token -> ID-JAG), the AS's JWT
//! bearer grant, and the sample servers taking the resulting token. The
//! refusals follow SECURITY-CASES' spirit: each names its problem.

// The demo with its IdP and the requests every test makes.
mod support;
// The flows that work, end to end.
mod flows;
// The refusals, at the AS and at the IdP.
mod refusals;
