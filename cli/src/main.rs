//! berth. 
fn main() {}
