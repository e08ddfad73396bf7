package com.example.corpus;

@VintfStability
interface IVersioned {
    int first() = 1;
    int second() = 5;
    int third() = 2;
}
