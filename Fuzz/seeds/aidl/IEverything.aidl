package com.example.corpus;

import com.example.corpus.Color;
import com.example.corpus.Point;
import com.example.corpus.Shape;
import com.example.corpus.Box;
import com.example.corpus.ICallback;

/** Every interface feature in one place. */
@SensitiveData
@Descriptor(value="com.example.corpus.IEverythingRenamed")
interface IEverything {
    const int ANSWER = 6 * 7;
    const long BIG = 0x7FFFFFFFFFFFFFFF;
    const String GREETING = "hello" + ", " + "world";
    const byte SMALL = 0x7Fu8;
    const boolean FLAG = ANSWER > 40 && !(BIG < 0);
    const float HALF = 1.0f / 2;
    const double THIRD = 1.0 / 3;
    const int SHIFTED = (1 << 10) | (ANSWER & 0xF) ^ ~0;

    parcelable Inner { int x = ANSWER; @nullable String note; }
    enum Mode { OFF, ON = 3, AUTO }
    union Choice { int number = 0; String text; }
    interface IInnerCallback { void ping(); }

    void nothing();
    oneway void fireAndForget(in int[] values, String tag);
    int primitives(boolean b, byte y, char c, int i, long l, float f, double d);
    @nullable String strings(String s, @nullable String n, @utf8InCpp String u);
    Color enums(Color c, in Color[] cs);
    void arrays(in int[] a, out long[] b, inout String[] c, in byte[][] nested, in int[3] fixed, in int[2][2] grid);
    List<String> lists(in List<Point> points, out List<String> names);
    Point parcelables(in Point p, out Point q, inout Point r, in @nullable Point s);
    Shape unions(in Shape s);
    Box<String> generics(in Box<Point> boxed);
    IBinder binders(IBinder b, @nullable IBinder n, in IBinder[] many);
    ICallback interfaces(ICallback cb, @nullable IInnerCallback inner);
    ParcelFileDescriptor fds(in FileDescriptor fd, in ParcelFileDescriptor pfd, in @nullable ParcelFileDescriptor maybe);
    Inner nestedTypes(in Inner inner, Mode mode, in Choice choice);
}
