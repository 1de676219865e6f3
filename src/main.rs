//! The `palisade` binary: a thin shell around [`palisade::cli`].

// Generation allocates and frees millions of small token and syntax-tree
// nodes; mimalloc is markedly faster at that than the system allocator
// (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    palisade::cli::main()
}
