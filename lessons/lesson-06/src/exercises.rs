//! Lesson 06 exercises: placeholder, filled below.
