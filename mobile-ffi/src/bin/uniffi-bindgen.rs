//! `uniffi-bindgen`: generates the Kotlin, Swift and Python bindings from the built library
//! (library mode; use an unstripped build).

fn main() {
    uniffi::uniffi_bindgen_main()
}
