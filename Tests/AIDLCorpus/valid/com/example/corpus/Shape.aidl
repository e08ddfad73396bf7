package com.example.corpus;

import com.example.corpus.Point;

union Shape {
    Point center;
    int[] polygon;
    @nullable IBinder owner;
    const int MAX_POINTS = 64;
}
