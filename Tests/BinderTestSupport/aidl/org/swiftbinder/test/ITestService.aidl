package org.swiftbinder.test;

import org.swiftbinder.test.ByteEnum;
import org.swiftbinder.test.GenericBox;
import org.swiftbinder.test.INamedCallback;
import org.swiftbinder.test.IntEnum;
import org.swiftbinder.test.LongEnum;
import org.swiftbinder.test.StructuredParcelable;
import org.swiftbinder.test.Union;

/**
 * The round-trip interface of the AIDL tests, in the style of AOSP's ITestService: every type
 * goes to the service and comes back.
 */
interface ITestService {
    const int CONSTANT = 42;
    const int CONSTANT2 = -CONSTANT * 2 + (1 << 4);
    const long LONG_CONSTANT = 1L << 40;
    const String STRING_CONSTANT = "foo" + "bar";
    const byte BYTE_CONSTANT = -1;
    const float FLOAT_CONSTANT = 1.5f;
    const double DOUBLE_CONSTANT = 2.5e1;
    const int HEX_CONSTANT = 0xFFFFFFFF;
    const int BAD_PARAMETER = 1;

    /** A nested parcelable (Android 13+). */
    parcelable Nested {
        @utf8InCpp String label;
        int[2] pair;
    }

    /** A nested enum. */
    enum NestedEnum { A, B = 5, C }

    boolean RepeatBoolean(boolean token);
    byte RepeatByte(byte token);
    char RepeatChar(char token);
    int RepeatInt(int token);
    long RepeatLong(long token);
    float RepeatFloat(float token);
    double RepeatDouble(double token);
    String RepeatString(String token);
    @nullable String RepeatNullableString(@nullable String token);
    @utf8InCpp String RepeatUtf8CppString(@utf8InCpp String token);
    ByteEnum RepeatByteEnum(ByteEnum token);
    IntEnum RepeatIntEnum(IntEnum token);
    LongEnum RepeatLongEnum(LongEnum token);
    NestedEnum RepeatNestedEnum(NestedEnum token);

    boolean[] ReverseBoolean(in boolean[] input, out boolean[] repeated);
    byte[] ReverseByte(in byte[] input, out byte[] repeated);
    char[] ReverseChar(in char[] input, out char[] repeated);
    int[] ReverseInt(in int[] input, out int[] repeated);
    long[] ReverseLong(in long[] input, out long[] repeated);
    float[] ReverseFloat(in float[] input, out float[] repeated);
    double[] ReverseDouble(in double[] input, out double[] repeated);
    String[] ReverseString(in String[] input, out String[] repeated);
    ByteEnum[] ReverseByteEnum(in ByteEnum[] input, out ByteEnum[] repeated);
    List<String> ReverseStringList(in List<String> input, out List<String> repeated);
    void DoubleInPlace(inout int[] values);
    @nullable int[] RepeatNullableIntArray(in @nullable int[] input);

    void FillOutStructuredParcelable(inout StructuredParcelable parcel);
    StructuredParcelable RepeatParcelable(in StructuredParcelable input, out StructuredParcelable repeated);
    @nullable StructuredParcelable RepeatNullableParcelable(in @nullable StructuredParcelable input);
    Union RepeatUnion(in Union token);
    GenericBox<String> RepeatBox(in GenericBox<String> box);
    Nested RepeatNested(in Nested nested);
    int[2][3] RepeatFixedSizeArray(in int[2][3] input);

    IBinder RepeatBinder(IBinder token);
    @nullable IBinder RepeatNullableBinder(@nullable IBinder token);
    INamedCallback GetCallback(@utf8InCpp String name);
    String CallbackName(INamedCallback callback);
    ParcelFileDescriptor RepeatParcelFileDescriptor(in ParcelFileDescriptor read);
    FileDescriptor RepeatFileDescriptor(in FileDescriptor read);

    /** Parameters named like the generated code's own variables must not be confused with them. */
    int Shadowing(IBinder binder, int request, int reply, int status, int result, int data, int code);

    void ThrowServiceException(int code);
    oneway void Record(int value);
    int[] Recorded();
}
