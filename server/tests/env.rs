//! Environment fallbacks of the configuration (its own test binary: the environment is the
//! process's).

use campus_voip_server::config::{self, Cli};
use clap::Parser;

#[test]
fn environment_fallbacks() {
    // One test owns the process environment (tests in this file run in threads).
    // SAFETY: no other test of this binary reads these variables.
    unsafe {
        std::env::set_var("CAMPUS_VOIP_MAX_CONTACTS", "7");
        std::env::set_var("CAMPUS_VOIP_DEV", "1");
        std::env::set_var("CAMPUS_VOIP_APP_SECRET_FILE", "/nonexistent/secret");
    }
    let c = Cli::try_parse_from(["campus-voip-server"]).unwrap();
    assert_eq!(c.opts.max_contacts, 7);
    assert!(c.opts.dev);
    let e =
        config::read_secret("app-secret", &c.opts.app_secret, &c.opts.app_secret_file).unwrap_err();
    assert!(e.contains("/nonexistent/secret"), "{e}");
    let flag = Cli::try_parse_from(["campus-voip-server", "--max-contacts", "3"]).unwrap();
    assert_eq!(flag.opts.max_contacts, 3, "a flag beats the environment");
    unsafe {
        std::env::set_var("CAMPUS_VOIP_DEV", "0");
    }
    assert!(
        !Cli::try_parse_from(["campus-voip-server"])
            .unwrap()
            .opts
            .dev
    );
    unsafe {
        std::env::remove_var("CAMPUS_VOIP_MAX_CONTACTS");
        std::env::remove_var("CAMPUS_VOIP_DEV");
        std::env::remove_var("CAMPUS_VOIP_APP_SECRET_FILE");
    }
}
