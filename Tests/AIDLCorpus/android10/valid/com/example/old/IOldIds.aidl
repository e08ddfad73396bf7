package com.example.old;

interface IOldIds {
    void a() = 1;
    void b() = 10;
}
