package com.example.corpus;

import com.example.corpus.Level;

@FixedSize
parcelable Fixed {
    int a;
    long b;
    Level level;
    int[4] quad;
}
