package com.example.corpus;

@Backing(type="int")
enum Color {
    RED = 1,
    GREEN = RED << 1,
    BLUE = GREEN << 1,
    WHITE = RED | GREEN | BLUE,
    ALIAS_OF_RED = RED,
}
