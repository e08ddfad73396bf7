package com.example.corpus;

@Backing(type="long")
enum Huge { ONE = 1L << 40, TWO }
