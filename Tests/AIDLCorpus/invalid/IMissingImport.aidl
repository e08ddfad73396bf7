// error: couldn't find import for class com.example.Nope
import com.example.Nope;
interface IMissingImport { }
