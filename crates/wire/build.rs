//! Compiles the .proto schemas with protox (no `protoc` needed) and prost.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = ["proto/client.proto", "proto/node.proto"];
    for file in files {
        println!("cargo:rerun-if-changed={file}");
    }
    let descriptors = protox::compile(files, ["proto"])?;
    prost_build::Config::new()
        .btree_map(["."])
        .compile_fds(descriptors)?;
    Ok(())
}
