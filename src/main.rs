//! The `palisade` binary: a thin shell around [`palisade::cli`].

fn main() -> std::process::ExitCode {
    palisade::cli::main()
}
