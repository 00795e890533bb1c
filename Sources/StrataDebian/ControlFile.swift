/// deb822 control data (Packages indexes, Release files, dpkg status).
public enum ControlFile {}
