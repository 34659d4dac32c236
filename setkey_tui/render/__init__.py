"""Pure text renderers: setkey's -D, -DP, -l, -x/-v and hex dump formats, and SA/SP export as statements."""
