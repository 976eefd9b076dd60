//! Stage 2/3 consumers of rate products (in progress).
