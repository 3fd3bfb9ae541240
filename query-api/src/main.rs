//! `sendops-api`: the public REST API. Not built yet (issue 3); this placeholder says so.

fn main() {
    eprintln!("sendops-api: the query API is not implemented yet (see issue 3)");
    std::process::exit(2);
}
